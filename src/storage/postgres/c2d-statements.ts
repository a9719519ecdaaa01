import type { C2dMessage, C2dTarget, FeedbackAck, FeedbackBatch, FeedbackRecord } from '../../domain/c2d.js';

/** A c2d_messages row; pg returns bytea as a Buffer and parses the json columns, a fresh copy per query. */
export interface MessageRow {
  device_id: string;
  module_id: string;
  sequence_number: number;
  ack: string;
  generation_id: string;
  enqueued_time: number;
  expiry_time: number;
  delivery_count: number;
  lock_token: string | null;
  locked_until: number | null;
  body: Buffer;
  properties: C2dMessage['content']['properties'];
  application_properties: C2dMessage['content']['applicationProperties'];
}

export interface BatchRow {
  batch_id: string;
  records: FeedbackRecord[];
  enqueued_time: number;
  delivery_count: number;
  lock_token: string | null;
  locked_until: number | null;
}

/** A queue's key in the tables: the device's own queue has module_id ''. */
export interface QueueKey {
  deviceId: string;
  moduleId: string;
}

/** A message is visible at $now when no lock holds it and it has not expired. */
const VISIBLE = '(locked_until IS NULL OR locked_until <= $3) AND expiry_time > $3';
/** A message is held by lock token $3 while its lock has not ended at $4. */
const HELD = 'device_id = $1 AND module_id = $2 AND lock_token = $3 AND locked_until > $4';
const KEY = 'device_id = $1 AND module_id = $2 AND sequence_number = $3';

/** $1, $2 are always the queue key where there is one. */
export const C2D_SQL = {
  // Takes the queue's row lock (enqueues of one target take turns on it) and its next number; rolled back with the
  // rest of the transaction when the queue is full, so no number is used up.
  nextSequence: `
    INSERT INTO c2d_queues (device_id, module_id, last_sequence) VALUES ($1, $2, 1)
    ON CONFLICT (device_id, module_id) DO UPDATE SET last_sequence = c2d_queues.last_sequence + 1
    RETURNING last_sequence`,
  // Runs after nextSequence in the same transaction: its snapshot is newer than every enqueue of this target that
  // held the queue's row lock before, so the depth it counts includes them. Every stored message counts, expired ones
  // not yet removed included.
  insertIfRoom: `
    INSERT INTO c2d_messages (device_id, module_id, sequence_number, ack, generation_id, enqueued_time, expiry_time,
                              delivery_count, body, properties, application_properties)
    SELECT $1, $2, $3::bigint, $4, $5, $6::bigint, $7::bigint, 0, $8::bytea, $9::json, $10::json
    WHERE (SELECT count(*) FROM c2d_messages WHERE device_id = $1 AND module_id = $2) < $11`,
  // SKIP LOCKED: a message another transaction is locking, settling or dead-lettering is passed over rather than
  // waited for, so nodes taking from one queue at once take different messages.
  nextVisible: `
    SELECT sequence_number, delivery_count FROM c2d_messages
    WHERE device_id = $1 AND module_id = $2 AND ${VISIBLE}
    ORDER BY sequence_number LIMIT 1
    FOR UPDATE SKIP LOCKED`,
  lock: `
    UPDATE c2d_messages SET lock_token = $4, locked_until = $5, delivery_count = delivery_count + 1
    WHERE ${KEY}
    RETURNING *`,
  unlock: `UPDATE c2d_messages SET lock_token = NULL, locked_until = NULL WHERE ${KEY} RETURNING *`,
  deleteMessage: `DELETE FROM c2d_messages WHERE ${KEY} RETURNING *`,
  selectHeld: `SELECT * FROM c2d_messages WHERE ${HELD} FOR UPDATE`,
  deleteHeld: `DELETE FROM c2d_messages WHERE ${HELD} RETURNING *`,
  // Expired and not locked; SKIP LOCKED leaves messages other transactions hold to them.
  deleteExpired: `
    DELETE FROM c2d_messages WHERE (device_id, module_id, sequence_number) IN (
      SELECT device_id, module_id, sequence_number FROM c2d_messages
      WHERE expiry_time <= $1 AND (locked_until IS NULL OR locked_until <= $1)
      ORDER BY expiry_time LIMIT $2
      FOR UPDATE SKIP LOCKED)
    RETURNING *`,
  deleteQueue: 'DELETE FROM c2d_messages WHERE device_id = $1 AND module_id = $2 RETURNING *',
  // The queues' rows go too: a device created again under the same id numbers its messages from 1.
  dropDevice: `
    WITH messages AS (DELETE FROM c2d_messages WHERE device_id = $1)
    DELETE FROM c2d_queues WHERE device_id = $1`,
  unexpiredCount: 'SELECT count(*)::integer AS n FROM c2d_messages WHERE device_id = $1 AND module_id = $2 AND expiry_time > $3',

  // $1: a json[] of FeedbackRecord documents, stored in array order.
  insertRecords: `
    INSERT INTO c2d_feedback_records (record)
    SELECT record FROM unnest($1::json[]) WITH ORDINALITY AS r(record, n) ORDER BY n`,
  pendingRecords: 'SELECT count(*)::integer AS n FROM c2d_feedback_records',
  // One statement: the oldest records ($2 at most) leave and the batch holding them ($1, at $3) arrives together, or
  // neither happens (a duplicate batch id fails the whole statement). SKIP LOCKED: two nodes sealing at once take
  // disjoint records.
  sealRecords: `
    WITH taken AS (
      DELETE FROM c2d_feedback_records WHERE id IN (
        SELECT id FROM c2d_feedback_records ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING id, record)
    INSERT INTO c2d_feedback_batches (batch_id, records, enqueued_time, delivery_count)
    SELECT $1, json_agg(record ORDER BY id), $3, 0 FROM taken HAVING count(*) > 0
    RETURNING *`,
  lockNextBatch: `
    UPDATE c2d_feedback_batches SET lock_token = $1, locked_until = $2, delivery_count = delivery_count + 1
    WHERE seq = (SELECT seq FROM c2d_feedback_batches WHERE locked_until IS NULL OR locked_until <= $3
                 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING *`,
  deleteHeldBatch: 'DELETE FROM c2d_feedback_batches WHERE lock_token = $1 AND locked_until > $2 RETURNING *',
  unlockHeldBatch: `
    UPDATE c2d_feedback_batches SET lock_token = NULL, locked_until = NULL
    WHERE lock_token = $1 AND locked_until > $2
    RETURNING *`,
  expireBatches: `
    DELETE FROM c2d_feedback_batches
    WHERE (locked_until IS NULL OR locked_until <= $3) AND (enqueued_time < $1 OR delivery_count >= $2)`,
} as const;

export function queueKey(target: C2dTarget): QueueKey {
  if (target.moduleId === '') throw new TypeError(`module id of device '${target.deviceId}' is empty`);
  return { deviceId: target.deviceId, moduleId: target.moduleId ?? '' };
}

/** $4..$10 of insertIfRoom. */
export function messageParams(message: C2dMessage): unknown[] {
  return [
    message.ack,
    message.generationId,
    message.enqueuedTime,
    message.expiryTime,
    message.content.body,
    JSON.stringify(message.content.properties),
    JSON.stringify(message.content.applicationProperties),
  ];
}

/** The message a row holds, with the lock fields when the row has them (see `unlocked`). */
export function toMessage(row: MessageRow): C2dMessage {
  const message: C2dMessage = {
    deviceId: row.device_id,
    content: { body: row.body, properties: row.properties, applicationProperties: row.application_properties },
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

/** The row without its lock: how a removed message is returned, though its lock columns may still hold one. */
export function unlocked(row: MessageRow): MessageRow {
  return { ...row, lock_token: null, locked_until: null };
}

export function toBatch(row: BatchRow): FeedbackBatch {
  const batch: FeedbackBatch = {
    batchId: row.batch_id,
    records: row.records,
    enqueuedTime: row.enqueued_time,
    deliveryCount: row.delivery_count,
  };
  if (row.lock_token !== null && row.locked_until !== null) {
    batch.lockToken = row.lock_token;
    batch.lockedUntil = row.locked_until;
  }
  return batch;
}
