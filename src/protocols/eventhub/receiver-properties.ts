import type { Sender } from 'rhea';

/** Link property: the receiver's owner level (AMQP long). */
export const EPOCH_PROPERTY = 'com.microsoft:epoch';
/** Desired capability: add last-enqueued-event delivery annotations to every event. */
export const RUNTIME_METRIC_CAPABILITY = 'com.microsoft:enable-receiver-runtime-metric';

export class ReceiverPropertyError extends Error {
  override name = 'ReceiverPropertyError';
}

/**
 * The receiver's epoch, undefined when it has none. rhea decodes a long as a number, or as its 8 raw bytes when
 * it exceeds 2^53; those are read as a 64-bit integer. Throws ReceiverPropertyError for a value that is no integer.
 */
export function epochOf(link: Sender): number | undefined {
  const properties = link.properties as Record<string, unknown> | undefined;
  const raw = properties?.[EPOCH_PROPERTY];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
  if (typeof raw === 'bigint') return Number(raw);
  if (Buffer.isBuffer(raw) && raw.length === 8) return Number(raw.readBigInt64BE(0));
  throw new ReceiverPropertyError(`${EPOCH_PROPERTY} must be an AMQP long, not ${JSON.stringify(raw)}`);
}

export function desiresCapability(link: Sender, capability: string): boolean {
  const desired = link.desired_capabilities as string | string[] | undefined;
  return Array.isArray(desired) ? desired.includes(capability) : desired === capability;
}
