import type { C2dMessage, FeedbackBatch } from '../../domain/c2d.js';
import { batchOfRow, messageOfRow, type BatchColumns, type MessageColumns } from '../c2d-rows.js';

/** A c2d_messages row; pg returns bytea as a Buffer and parses the json columns, a fresh copy per query. */
export interface MessageRow extends MessageColumns {
  properties: C2dMessage['content']['properties'];
  application_properties: C2dMessage['content']['applicationProperties'];
}

/** A c2d_feedback_batches row with its json records column read as text (pg would parse it): the batch's body. */
export interface BatchRow extends BatchColumns {
  records: string;
}

/** The batch columns, records as the text stored (json keeps its input text exactly). */
const BATCH = 'batch_id, records::text AS records, enqueued_time, delivery_count, lock_token, locked_until';

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
  // $12/$13 lock the new message at once (its first delivery) when not null.
  insertIfRoom: `
    INSERT INTO c2d_messages (device_id, module_id, sequence_number, ack, generation_id, enqueued_time, expiry_time,
                              delivery_count, lock_token, locked_until, body, properties, application_properties)
    SELECT $1, $2, $3::bigint, $4, $5, $6::bigint, $7::bigint, CASE WHEN $12::text IS NULL THEN 0 ELSE 1 END,
           $12::text, $13::bigint, $8::bytea, $9::json, $10::json
    WHERE (SELECT count(*) FROM c2d_messages WHERE device_id = $1 AND module_id = $2) < $11`,
  // Whether the queue holds a visible message (a new one would not be first); after nextSequence, as insertIfRoom.
  anyVisible: `SELECT 1 FROM c2d_messages WHERE device_id = $1 AND module_id = $2 AND ${VISIBLE} LIMIT 1`,
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
  // disjoint records. The body is the records' own text joined by commas: compact, as JSON.stringify writes it
  // (json_agg would put a newline between them).
  sealRecords: `
    WITH taken AS (
      DELETE FROM c2d_feedback_records WHERE id IN (
        SELECT id FROM c2d_feedback_records ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING id, record)
    INSERT INTO c2d_feedback_batches (batch_id, records, enqueued_time, delivery_count)
    SELECT $1, ('[' || string_agg(record::text, ',' ORDER BY id) || ']')::json, $3, 0 FROM taken HAVING count(*) > 0
    RETURNING json_array_length(records) AS n`,
  lockNextBatch: `
    UPDATE c2d_feedback_batches SET lock_token = $1, locked_until = $2, delivery_count = delivery_count + 1
    WHERE seq = (SELECT seq FROM c2d_feedback_batches WHERE locked_until IS NULL OR locked_until <= $3
                 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING ${BATCH}`,
  deleteHeldBatch: 'DELETE FROM c2d_feedback_batches WHERE lock_token = $1 AND locked_until > $2',
  unlockHeldBatch: `
    UPDATE c2d_feedback_batches SET lock_token = NULL, locked_until = NULL
    WHERE lock_token = $1 AND locked_until > $2
    RETURNING ${BATCH}`,
  expireBatches: `
    DELETE FROM c2d_feedback_batches
    WHERE (locked_until IS NULL OR locked_until <= $3) AND (enqueued_time < $1 OR delivery_count >= $2)`,
} as const;

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

/** The message a row holds (pg has parsed its json columns already). */
export function toMessage(row: MessageRow): C2dMessage {
  return messageOfRow(row, { properties: row.properties, applicationProperties: row.application_properties });
}

export function toBatch(row: BatchRow): FeedbackBatch {
  return batchOfRow(row);
}
