import type { MessageProperties, PropertyValue } from './message.js';
import { keepLast } from './keep-last.js';

/**
 * Cloud-to-device messages as IoT Hub defines them: a per-identity FIFO, messages locked while a device holds
 * them, settled by complete / reject / abandon, and feedback to the back end when the sender asked for it.
 */

/** The `iothub-ack` application property the sender sets: which outcomes it wants feedback for. */
export type FeedbackAck = 'none' | 'positive' | 'negative' | 'full';

/** Why a message left the queue, as feedback records name it. */
export type FeedbackStatus = 'Success' | 'Expired' | 'DeliveryCountExceeded' | 'Rejected' | 'Purged';

export const ACK_PROPERTY = 'iothub-ack';
export const FEEDBACK_CONTENT_TYPE = 'application/vnd.microsoft.iothub.feedback.json';

const ACKS: ReadonlySet<string> = new Set(['none', 'positive', 'negative', 'full']);

/** Undefined when the value is not one IoT Hub knows; absent means none. Case-insensitive, as the hub is. */
export function parseAck(value: PropertyValue | undefined): FeedbackAck | undefined {
  if (value === undefined || value === null || value === '') return 'none';
  const text = String(value).toLowerCase();
  return ACKS.has(text) ? (text as FeedbackAck) : undefined;
}

/** positive: Success; negative: every dead-letter (Expired, DeliveryCountExceeded, Rejected) and Purged; full: all. */
export function wantsFeedback(ack: FeedbackAck, status: FeedbackStatus): boolean {
  if (ack === 'full') return true;
  if (ack === 'none') return false;
  return (status === 'Success') === (ack === 'positive');
}

/** Who a C2D message is for: a device, or one of its modules. */
export interface C2dTarget {
  deviceId: string;
  moduleId?: string;
}

/** The part of a message the sender chose; the hub adds the rest (C2dMessage). */
export interface C2dContent {
  body: Buffer;
  /** `to` is set by the hub to the target's devicebound address. */
  properties: MessageProperties;
  /** Everything the sender set, `iothub-ack` included (devices read it back as `message.ack`). */
  applicationProperties: Record<string, PropertyValue>;
}

/** What the service hands the store to enqueue. */
export interface NewC2dMessage extends C2dTarget {
  content: C2dContent;
  ack: FeedbackAck;
  /** The generation id of the target when the message was sent; feedback records carry it. */
  generationId: string;
  /** Milliseconds since the Unix epoch. */
  enqueuedTime: number;
  /** Milliseconds since the Unix epoch; the message is dropped (feedback Expired) at this time. */
  expiryTime: number;
}

/** A message in a queue, as the store returns it. */
export interface C2dMessage extends NewC2dMessage {
  /** Per-queue, increasing from 1 in enqueue order; never reused while the queue exists. */
  sequenceNumber: number;
  /** How many times the message was handed to a device (locked), the current delivery included. */
  deliveryCount: number;
  /** Present while the message is locked by a delivery. */
  lockToken?: string;
  /** Milliseconds since the Unix epoch: when the lock ends, if locked. */
  lockedUntil?: number;
}

/** One line of a feedback message, as IoT Hub writes it. */
export interface FeedbackRecord {
  originalMessageId: string;
  /** ISO 8601: when the feedback record was made. */
  enqueuedTimeUtc: string;
  statusCode: FeedbackStatus;
  description: string;
  deviceId: string;
  deviceGenerationId: string;
}

/** A batch of feedback records delivered as one message on `/messages/serviceBound/feedback`. */
export interface FeedbackBatch {
  /** The feedback message's own message-id. */
  batchId: string;
  /**
   * The feedback message's body: its records as a JSON array (FeedbackRecord objects), the text the store sealed.
   * Kept as text from seal to delivery: nothing on the way reads the records, and parsing them to write them again
   * was 2-3% of the hub under C2D load. `feedbackRecordsOf` reads them.
   */
  body: string;
  /** Milliseconds since the Unix epoch. */
  enqueuedTime: number;
  deliveryCount: number;
  lockToken?: string;
  lockedUntil?: number;
}

/** The records a feedback batch holds. */
export function feedbackRecordsOf(batch: Pick<FeedbackBatch, 'body'>): FeedbackRecord[] {
  return JSON.parse(batch.body) as FeedbackRecord[];
}

const DESCRIPTIONS: Readonly<Record<FeedbackStatus, string>> = {
  Success: 'Success',
  Expired: 'Message expired',
  DeliveryCountExceeded: 'Message delivery count exceeded',
  Rejected: 'Message rejected',
  Purged: 'Message purged',
};

export function feedbackRecordOf(message: C2dMessage, status: FeedbackStatus, now: number): FeedbackRecord {
  return feedbackRecordFor({ messageId: message.content.properties.messageId, deviceId: message.deviceId, generationId: message.generationId }, status, now);
}

/** Formatting a Date per record was 1% of the hub under C2D load. */
const isoTimeOf = keepLast((ms) => new Date(ms).toISOString());

/** The same, from just the fields a record takes. */
export function feedbackRecordFor(source: { messageId: string | undefined; deviceId: string; generationId: string }, status: FeedbackStatus, now: number): FeedbackRecord {
  return {
    originalMessageId: source.messageId ?? '',
    enqueuedTimeUtc: isoTimeOf(now),
    statusCode: status,
    description: DESCRIPTIONS[status],
    deviceId: source.deviceId,
    deviceGenerationId: source.generationId,
  };
}

/** The devicebound address IoT Hub puts in `to` (as the real hub spells it on delivery). */
export function deviceboundAddress(target: C2dTarget): string {
  return target.moduleId === undefined ? `/devices/${target.deviceId}/messages/deviceBound` : `/devices/${target.deviceId}/modules/${target.moduleId}/messages/deviceBound`;
}

/**
 * The message a store holds right after enqueue: the new message with its sequence number and no delivery yet. A
 * copy, so neither later changes to the input nor the caller's changes to the result reach what is stored.
 */
export function enqueuedMessage(message: NewC2dMessage, sequenceNumber: number): C2dMessage {
  const stored: C2dMessage = {
    deviceId: message.deviceId,
    content: {
      body: Buffer.from(message.content.body),
      properties: { ...message.content.properties },
      applicationProperties: { ...message.content.applicationProperties },
    },
    ack: message.ack,
    generationId: message.generationId,
    enqueuedTime: message.enqueuedTime,
    expiryTime: message.expiryTime,
    sequenceNumber,
    deliveryCount: 0,
  };
  if (message.moduleId !== undefined) stored.moduleId = message.moduleId;
  return stored;
}

/** A new message as enqueue stores it when it is locked at once: its first delivery under `lock`. */
export function lockedMessage(message: NewC2dMessage, sequenceNumber: number, lock: { token: string; until: number }): C2dMessage {
  const locked = enqueuedMessage(message, sequenceNumber);
  locked.deliveryCount = 1;
  locked.lockToken = lock.token;
  locked.lockedUntil = lock.until;
  return locked;
}
