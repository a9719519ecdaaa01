import { HubError } from '../../domain/errors.js';
import { normaliseIfMatch } from '../../domain/identity.js';

/**
 * Reads an If-Match header into the version a conditional write expects: undefined for `*` (unconditional);
 * an etag that is not one of ours can never match, so it fails the precondition at once.
 */
export function expectedVersionOf(ifMatchHeader: string): number | undefined {
  const etag = normaliseIfMatch(ifMatchHeader) ?? '';
  if (etag === '*') return undefined;
  const text = Buffer.from(etag, 'base64').toString('utf8');
  if (!/^\d{1,15}$/.test(text) || Buffer.from(text).toString('base64') !== etag) {
    throw new HubError('PreconditionFailed', `The etag "${etag}" does not match the current one`);
  }
  return Number(text);
}
