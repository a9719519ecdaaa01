import rhea, { type Message } from 'rhea';
import { FEEDBACK_CONTENT_TYPE, type C2dMessage, type FeedbackBatch } from '../../domain/c2d.js';

/** A lock token (a UUID) as the 16-byte delivery tag the .NET SDKs turn back into a Guid. */
export function deliveryTagOf(lockToken: string): Buffer {
  return Buffer.from(lockToken.replace(/-/g, ''), 'hex');
}

/**
 * A queued message as IoT Hub delivers it on a device's C2D receiver link (protocol doc §3.3): the body as one
 * `data` section, the sender's properties and application properties (`iothub-ack` included), the queue's
 * sequence number and enqueued time as annotations, and the previous deliveries in the header.
 */
export function encodeC2dMessage(m: C2dMessage): Message {
  const p = m.content.properties;
  const message: Message = {
    body: rhea.message.data_section(m.content.body),
    delivery_count: m.deliveryCount - 1,
    application_properties: { ...m.content.applicationProperties },
    message_annotations: {
      'x-opt-sequence-number': rhea.types.wrap_long(m.sequenceNumber),
      'iothub-enqueuedtime': new Date(m.enqueuedTime),
    },
  };
  if (p.messageId !== undefined) message.message_id = p.messageId;
  if (p.to !== undefined) message.to = p.to;
  if (p.correlationId !== undefined) message.correlation_id = p.correlationId;
  if (p.userId !== undefined) message.user_id = Buffer.from(p.userId, 'utf8') as unknown as string;
  if (p.contentType !== undefined) message.content_type = p.contentType;
  if (p.contentEncoding !== undefined) message.content_encoding = p.contentEncoding;
  if (p.absoluteExpiryTime !== undefined) message.absolute_expiry_time = new Date(p.absoluteExpiryTime);
  if (p.creationTime !== undefined) message.creation_time = new Date(p.creationTime);
  return message;
}

/** A feedback message (protocol doc §5.3): the records as a JSON array, the hub's name as user-id. */
export function encodeFeedbackMessage(batch: FeedbackBatch, hubName: string): Message {
  return {
    body: rhea.message.data_section(Buffer.from(batch.body, 'utf8')),
    message_id: batch.batchId,
    user_id: Buffer.from(hubName, 'utf8') as unknown as string,
    content_type: FEEDBACK_CONTENT_TYPE,
    content_encoding: 'utf-8',
    delivery_count: batch.deliveryCount - 1,
    message_annotations: { 'iothub-enqueuedtime': new Date(batch.enqueuedTime) },
  };
}
