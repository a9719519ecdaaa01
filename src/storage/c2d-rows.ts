import type { C2dMessage, C2dTarget, FeedbackAck, FeedbackBatch } from '../domain/c2d.js';
import type { SettledC2dMessage } from '../ports/c2d-store.js';

/**
 * What the SQLite and PostgreSQL C2D schemas share: a queue is keyed by (device_id, module_id) with module_id '' for
 * the device's own queue, and rows turn into messages and batches the same way once their JSON columns are read.
 */
export interface QueueKey {
  deviceId: string;
  moduleId: string;
}

export function queueKey(target: C2dTarget): QueueKey {
  if (target.moduleId === '') throw new TypeError(`module id of device '${target.deviceId}' is empty`);
  return { deviceId: target.deviceId, moduleId: target.moduleId ?? '' };
}

/** What settle resolves for the message it removed. */
export function settledOf(key: QueueKey, sequenceNumber: number, ack: string): SettledC2dMessage {
  const settled: SettledC2dMessage = { deviceId: key.deviceId, sequenceNumber, ack: ack as FeedbackAck };
  if (key.moduleId !== '') settled.moduleId = key.moduleId;
  return settled;
}

interface LockColumns {
  lock_token: string | null;
  locked_until: number | null;
}

/** The columns of a message row other than its JSON ones. */
export interface MessageColumns extends LockColumns {
  device_id: string;
  module_id: string;
  sequence_number: number;
  ack: string;
  generation_id: string;
  enqueued_time: number;
  expiry_time: number;
  delivery_count: number;
  body: Buffer;
}

export interface BatchColumns extends LockColumns {
  batch_id: string;
  enqueued_time: number;
  delivery_count: number;
}

/** The message a row holds, with the lock fields when the row has them (see `unlocked`). */
export function messageOfRow(row: MessageColumns, content: Pick<C2dMessage['content'], 'properties' | 'applicationProperties'>): C2dMessage {
  const message: C2dMessage = {
    deviceId: row.device_id,
    content: { body: row.body, properties: content.properties, applicationProperties: content.applicationProperties },
    ack: row.ack as FeedbackAck,
    generationId: row.generation_id,
    enqueuedTime: row.enqueued_time,
    expiryTime: row.expiry_time,
    sequenceNumber: row.sequence_number,
    deliveryCount: row.delivery_count,
  };
  if (row.module_id !== '') message.moduleId = row.module_id;
  if (row.lock_token !== null && row.locked_until !== null) {
    message.lockToken = row.lock_token;
    message.lockedUntil = row.locked_until;
  }
  return message;
}

/** A batch row: its records column is the JSON text of the records (the batch's body). */
export function batchOfRow(row: BatchColumns & { records: string }): FeedbackBatch {
  const batch: FeedbackBatch = { batchId: row.batch_id, body: row.records, enqueuedTime: row.enqueued_time, deliveryCount: row.delivery_count };
  if (row.lock_token !== null && row.locked_until !== null) {
    batch.lockToken = row.lock_token;
    batch.lockedUntil = row.locked_until;
  }
  return batch;
}

/** The row without its lock: how a message is returned once it is not locked, though its lock columns may hold one. */
export function unlocked<R extends LockColumns>(row: R): R {
  return { ...row, lock_token: null, locked_until: null };
}
