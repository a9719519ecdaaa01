import { headers, type MsgHdrs } from 'nats';
import type { LogEvent } from '../../ports/telemetry-log.js';
import type { Stored } from './direct-get.js';

// Short names: headers are stored with every event, and count against the stream's max_bytes.
const TIME = 'Lz-Time';
const KEY = 'Lz-Key';

/** The metadata of an event as NATS headers: enqueuedTime in decimal, the partition key URI-encoded (CR, LF, trimming). */
export function eventHeaders(enqueuedTime: number, partitionKey: string | undefined): MsgHdrs {
  const h = headers();
  h.set(TIME, String(enqueuedTime));
  if (partitionKey !== undefined) h.set(KEY, encodeURIComponent(partitionKey));
  return h;
}

export function storedTime(stored: Stored): number {
  const time = Number(stored.headers?.get(TIME));
  if (!Number.isSafeInteger(time)) throw new Error(`stored message ${stored.seq} has no valid ${TIME} header`);
  return time;
}

export function toEvent(partition: number, stored: Stored): LogEvent {
  const sequenceNumber = stored.seq - 1;
  const event: LogEvent = {
    partition,
    sequenceNumber,
    offset: String(sequenceNumber),
    enqueuedTime: storedTime(stored),
    payload: Buffer.from(stored.data),
  };
  if (stored.headers?.has(KEY)) event.partitionKey = decodeURIComponent(stored.headers.get(KEY));
  return event;
}
