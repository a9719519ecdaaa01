import { HubError } from '../../domain/errors.js';

/** The consumer group every Event Hub has; it cannot be created or deleted. */
export const DEFAULT_CONSUMER_GROUP = '$Default';

export const MAX_CONSUMER_GROUP_NAME_LENGTH = 50;

// Event Hubs: 1-50 characters, letters, digits, periods, hyphens and underscores, starting with a letter or digit.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Consumer group names compare case-insensitively, as in Event Hubs (`$Default` and `$default` are one group). */
export function sameConsumerGroup(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function isDefaultConsumerGroup(name: string): boolean {
  return sameConsumerGroup(name, DEFAULT_CONSUMER_GROUP);
}

/** Throws ArgumentInvalid unless `name` may be created as a consumer group. */
export function validateConsumerGroupName(name: string): void {
  if (isDefaultConsumerGroup(name)) {
    throw new HubError('ArgumentInvalid', `${DEFAULT_CONSUMER_GROUP} is built in: it cannot be created or deleted`);
  }
  if (name.length === 0 || name.length > MAX_CONSUMER_GROUP_NAME_LENGTH || !NAME.test(name)) {
    throw new HubError(
      'ArgumentInvalid',
      `"${name}" is not a valid consumer group name: use 1 to ${MAX_CONSUMER_GROUP_NAME_LENGTH} letters, digits, periods, hyphens and underscores, starting with a letter or digit`,
    );
  }
}
