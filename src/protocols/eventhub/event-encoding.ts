import type { ReadEvent } from '../../core/eventhub/telemetry-reader.js';
import { TIMESTAMP_ANNOTATIONS, type HubMessage, type PropertyValue } from '../../domain/message.js';
import type { PartitionInfo } from '../../ports/telemetry-log.js';
import { AmqpWriter } from './amqp-writer.js';

export const EVENT_ANNOTATIONS = {
  sequenceNumber: 'x-opt-sequence-number',
  offset: 'x-opt-offset',
  enqueuedTime: 'x-opt-enqueued-time',
  partitionKey: 'x-opt-partition-key',
} as const;

/** The partition's last event when the receiver asked for runtime metrics, and when the hub looked. */
export interface LastEnqueuedEvent {
  info: PartitionInfo;
  retrievedAt: number;
}

// AMQP 1.0 §3.2 section descriptors.
const SECTION = { deliveryAnnotations: 0x71, messageAnnotations: 0x72, properties: 0x73, applicationProperties: 0x74, data: 0x75 } as const;

/**
 * One stored event as Event Hubs delivers it, as the bytes of an AMQP message (send them with message format 0):
 * - delivery annotations with the partition's last event, when the receiver asked for runtime metrics;
 * - message annotations: the hub's (`iothub-*`, `dt-*`; TIMESTAMP_ANNOTATIONS as timestamps) plus
 *   `x-opt-sequence-number` (long), `x-opt-offset` (string), `x-opt-enqueued-time` (timestamp) and
 *   `x-opt-partition-key` when the event has one;
 * - properties: message-id, user-id (binary), correlation-id, content-type and content-encoding (symbols),
 *   absolute-expiry-time and creation-time (timestamps); `to` is not passed on, as in IoT Hub;
 * - application properties as sent;
 * - the device's body bytes as a single `data` section.
 */
export function encodeEventMessage(read: ReadEvent, last?: LastEnqueuedEvent): Buffer {
  const { event, message } = read;
  const w = new AmqpWriter(message.body.length + 768);
  if (last) {
    w.descriptor(SECTION.deliveryAnnotations);
    w.map(() => {
      w.symbol('last_enqueued_sequence_number');
      w.long(last.info.lastEnqueuedSequenceNumber);
      w.symbol('last_enqueued_offset');
      w.string(last.info.lastEnqueuedOffset);
      w.symbol('last_enqueued_time_utc');
      w.timestamp(last.info.lastEnqueuedTime);
      w.symbol('runtime_info_retrieval_time_utc');
      w.timestamp(last.retrievedAt);
      return 8;
    });
  }

  w.descriptor(SECTION.messageAnnotations);
  w.map(() => {
    let count = 0;
    for (const name in message.annotations) {
      const value = message.annotations[name]!;
      w.symbol(name);
      if (typeof value === 'string') w.string(value);
      else if (TIMESTAMP_ANNOTATIONS.has(name)) w.timestamp(value);
      else w.number(value);
      count += 2;
    }
    w.symbol(EVENT_ANNOTATIONS.sequenceNumber);
    w.long(event.sequenceNumber);
    w.symbol(EVENT_ANNOTATIONS.offset);
    w.string(event.offset);
    w.symbol(EVENT_ANNOTATIONS.enqueuedTime);
    w.timestamp(event.enqueuedTime);
    count += 6;
    if (event.partitionKey !== undefined) {
      w.symbol(EVENT_ANNOTATIONS.partitionKey);
      w.string(event.partitionKey);
      count += 2;
    }
    return count;
  });

  writeProperties(w, message.properties);

  w.descriptor(SECTION.applicationProperties);
  w.map(() => {
    let count = 0;
    for (const name in message.applicationProperties) {
      w.string(name);
      writeValue(w, message.applicationProperties[name]!);
      count += 2;
    }
    return count;
  });

  w.descriptor(SECTION.data);
  w.binary(message.body);
  return w.bytes();
}

/** The properties section (§3.2.4) up to its last field present; omitted when there is none. */
function writeProperties(w: AmqpWriter, p: HubMessage['properties']): void {
  // Index of the last field sent, in the section's field order; `to`, subject, reply-to and the group fields are
  // never sent.
  const last =
    p.creationTime !== undefined ? 9
    : p.absoluteExpiryTime !== undefined ? 8
    : p.contentEncoding !== undefined ? 7
    : p.contentType !== undefined ? 6
    : p.correlationId !== undefined ? 5
    : p.userId !== undefined ? 1
    : p.messageId !== undefined ? 0
    : -1;
  if (last < 0) return;
  w.descriptor(SECTION.properties);
  w.list(() => {
    optional(w, p.messageId, (v) => w.string(v));
    if (last >= 1) optional(w, p.userId, (v) => w.binary(Buffer.from(v, 'utf8')));
    if (last >= 2) {
      w.null(); // to
      w.null(); // subject
      w.null(); // reply-to
    }
    if (last >= 5) optional(w, p.correlationId, (v) => w.string(v));
    if (last >= 6) optional(w, p.contentType, (v) => w.symbol(v));
    if (last >= 7) optional(w, p.contentEncoding, (v) => w.symbol(v));
    if (last >= 8) optional(w, p.absoluteExpiryTime, (v) => w.timestamp(v));
    if (last >= 9) optional(w, p.creationTime, (v) => w.timestamp(v));
    return last + 1;
  });
}

function optional<T>(w: AmqpWriter, value: T | undefined, write: (value: T) => void): void {
  if (value === undefined) w.null();
  else write(value);
}

function writeValue(w: AmqpWriter, value: PropertyValue): void {
  if (typeof value === 'string') w.string(value);
  else if (typeof value === 'number') w.number(value);
  else if (typeof value === 'boolean') w.boolean(value);
  else w.null();
}
