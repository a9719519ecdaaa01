import { enqueuedMessage, feedbackRecordOf, lockedMessage, wantsFeedback, type C2dMessage, type C2dTarget, type FeedbackBatch, type FeedbackStatus, type NewC2dMessage } from '../../domain/c2d.js';
import { QUEUE_FULL, type C2dStore, type LockRequest, type SettledC2dMessage } from '../../ports/c2d-store.js';
import { C2D_SQL as SQL, messageParams, toBatch, toMessage, type BatchRow, type MessageRow } from './c2d-statements.js';
import { type QueueKey, queueKey, settledOf, unlocked } from '../c2d-rows.js';
import type { PostgresDatabase, Sql } from './database.js';
import { KeyedSerializer } from './keyed-serializer.js';

/**
 * C2dStore on the c2d_* tables (migration 2) of a PostgresDatabase, safe with many nodes on one database:
 * - enqueue takes the queue's counter row lock (INSERT ... ON CONFLICT DO UPDATE) for its sequence number, then
 *   inserts only if the queue has room, in one transaction;
 * - lockNext picks with SELECT ... FOR UPDATE SKIP LOCKED, so two nodes never lock the same message;
 * - settle, release and the feedback batch operations match on lock token and `locked_until > now` in the statement
 *   that removes, changes or row-locks the message, so of two nodes settling one message exactly one finds it;
 * - feedback records are written in the transaction that removes their message.
 * Within this process the queue operations of one device (its own queue and its modules') run one at a time in call
 * order, so a burst of enqueues or lockNexts is numbered and served in the order it was issued. The pool belongs to
 * whoever opened it; close() waits for the operations already issued and leaves it open.
 */
export class PostgresC2dStore implements C2dStore {
  readonly #db: PostgresDatabase;
  readonly #devices = new KeyedSerializer();

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async enqueue(message: NewC2dMessage, maxDepth: number, lock?: LockRequest): Promise<C2dMessage | typeof QUEUE_FULL> {
    const key = queueKey(message);
    const stored = enqueuedMessage(message, 0);
    const params = messageParams(stored);
    return this.#inOrder(key, () =>
      this.#db.transaction(async (tx) => {
        const { rows } = await tx.query<{ last_sequence: number }>(SQL.nextSequence, [key.deviceId, key.moduleId]);
        const sequenceNumber = rows[0]!.last_sequence;
        const first =
          lock !== undefined && message.expiryTime > lock.now && (await tx.query(SQL.anyVisible, [key.deviceId, key.moduleId, lock.now])).rowCount === 0;
        const locking = first ? [lock.token, lock.until] : [null, null];
        const { rowCount } = await tx.query(SQL.insertIfRoom, [key.deviceId, key.moduleId, sequenceNumber, ...params, maxDepth, ...locking]);
        if (rowCount === 1) return first ? lockedMessage(message, sequenceNumber, lock) : { ...stored, sequenceNumber };
        tx.rollback();
        return QUEUE_FULL;
      }),
    );
  }

  async lockNext(target: C2dTarget, lock: LockRequest): Promise<{ message?: C2dMessage; deadLettered: C2dMessage[] }> {
    const key = queueKey(target);
    const { token, until, now, maxDeliveryCount } = lock;
    return this.#inOrder(key, () =>
      this.#db.transaction(async (tx) => {
        const deadLettered: C2dMessage[] = [];
        for (;;) {
          const { rows } = await tx.query<{ sequence_number: number; delivery_count: number }>(SQL.nextVisible, [key.deviceId, key.moduleId, now]);
          const next = rows[0];
          if (next === undefined) return { deadLettered };
          const position = [key.deviceId, key.moduleId, next.sequence_number];
          if (next.delivery_count >= maxDeliveryCount) {
            deadLettered.push(await remove(tx, position, now, 'DeliveryCountExceeded'));
            continue;
          }
          const locked = await tx.query<MessageRow>(SQL.lock, [...position, token, until]);
          return { message: toMessage(locked.rows[0]!), deadLettered };
        }
      }),
    );
  }

  async settle(target: C2dTarget, lockToken: string, now: number, status?: FeedbackStatus): Promise<SettledC2dMessage | undefined> {
    const key = queueKey(target);
    const held = [key.deviceId, key.moduleId, lockToken, now];
    return this.#inOrder(key, async () => {
      if (status === undefined) {
        const { rows } = await this.#db.query<MessageRow>(SQL.deleteHeld, held);
        return rows[0] === undefined ? undefined : settledOf(key, rows[0].sequence_number, rows[0].ack);
      }
      return this.#db.transaction(async (tx) => {
        const { rows } = await tx.query<MessageRow>(SQL.deleteHeld, held);
        if (rows[0] === undefined) return undefined;
        await recordFeedback(tx, [toMessage(rows[0])], status, now);
        return settledOf(key, rows[0].sequence_number, rows[0].ack);
      });
    });
  }

  async release(
    target: C2dTarget,
    lockToken: string,
    now: number,
    maxDeliveryCount?: number,
  ): Promise<{ message: C2dMessage; deadLettered: boolean } | undefined> {
    const key = queueKey(target);
    return this.#inOrder(key, () =>
      this.#db.transaction(async (tx) => {
        const { rows } = await tx.query<MessageRow>(SQL.selectHeld, [key.deviceId, key.moduleId, lockToken, now]);
        const row = rows[0];
        if (row === undefined) return undefined;
        const position = [key.deviceId, key.moduleId, row.sequence_number];
        if (maxDeliveryCount !== undefined && row.delivery_count >= maxDeliveryCount) {
          return { message: await remove(tx, position, now, 'DeliveryCountExceeded'), deadLettered: true };
        }
        const unlockedRow = await tx.query<MessageRow>(SQL.unlock, position);
        return { message: toMessage(unlockedRow.rows[0]!), deadLettered: false };
      }),
    );
  }

  async expire(now: number, limit: number): Promise<C2dMessage[]> {
    if (!Number.isInteger(limit)) throw new TypeError(`expire: limit must be an integer, got ${limit}`);
    if (limit <= 0) return [];
    return this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<MessageRow>(SQL.deleteExpired, [now, limit]);
      // DELETE ... RETURNING has no order; feedback goes in expiry order, as the messages were picked.
      rows.sort((a, b) => a.expiry_time - b.expiry_time);
      const messages = rows.map((row) => toMessage(unlocked(row)));
      await recordFeedback(tx, messages, 'Expired', now);
      return messages;
    });
  }

  async purge(target: C2dTarget, now: number): Promise<number> {
    const key = queueKey(target);
    return this.#inOrder(key, () =>
      this.#db.transaction(async (tx) => {
        const { rows } = await tx.query<MessageRow>(SQL.deleteQueue, [key.deviceId, key.moduleId]);
        rows.sort((a, b) => a.sequence_number - b.sequence_number);
        // The queue's row in c2d_queues stays, so sequence numbers go on where they were.
        await recordFeedback(tx, rows.map(toMessage), 'Purged', now);
        return rows.length;
      }),
    );
  }

  async dropDevice(deviceId: string): Promise<void> {
    await this.#devices.run(deviceId, () => this.#db.query(SQL.dropDevice, [deviceId]));
  }

  async count(target: C2dTarget, now: number): Promise<number> {
    const { deviceId, moduleId } = queueKey(target);
    const { rows } = await this.#db.query<{ n: number }>(SQL.unexpiredCount, [deviceId, moduleId, now]);
    return rows[0]!.n;
  }

  async pendingFeedbackCount(): Promise<number> {
    const { rows } = await this.#db.query<{ n: number }>(SQL.pendingRecords);
    return rows[0]!.n;
  }

  async sealFeedback(batchId: string, max: number, now: number): Promise<number> {
    if (!Number.isInteger(max)) throw new TypeError(`sealFeedback: max must be an integer, got ${max}`);
    if (max <= 0) return 0;
    const { rows } = await this.#db.query<{ n: number }>(SQL.sealRecords, [batchId, max, now]);
    return rows[0]?.n ?? 0;
  }

  async lockNextFeedback(lock: LockRequest): Promise<FeedbackBatch | undefined> {
    return this.#batch(SQL.lockNextBatch, [lock.token, lock.until, lock.now]);
  }

  async settleFeedback(lockToken: string, now: number): Promise<boolean> {
    return (await this.#db.query(SQL.deleteHeldBatch, [lockToken, now])).rowCount === 1;
  }

  async releaseFeedback(lockToken: string, now: number): Promise<FeedbackBatch | undefined> {
    return this.#batch(SQL.unlockHeldBatch, [lockToken, now]);
  }

  async expireFeedback(enqueuedBefore: number, maxDeliveryCount: number, now: number): Promise<number> {
    const { rowCount } = await this.#db.query(SQL.expireBatches, [enqueuedBefore, maxDeliveryCount, now]);
    return rowCount;
  }

  async close(): Promise<void> {
    await this.#devices.drain();
  }

  #inOrder<T>(key: QueueKey, operation: () => Promise<T>): Promise<T> {
    return this.#devices.run(key.deviceId, operation);
  }

  async #batch(sql: string, params: unknown[]): Promise<FeedbackBatch | undefined> {
    const { rows } = await this.#db.query<BatchRow>(sql, params);
    return rows[0] === undefined ? undefined : toBatch(rows[0]);
  }
}

/** Deletes a message, recording feedback `status` when its ack asks for it; returns it as it was, unlocked. */
async function remove(tx: Sql, position: unknown[], now: number, status: FeedbackStatus): Promise<C2dMessage> {
  const { rows } = await tx.query<MessageRow>(SQL.deleteMessage, position);
  const message = toMessage(unlocked(rows[0]!));
  await recordFeedback(tx, [message], status, now);
  return message;
}

/** Appends, in order, a feedback record for each message whose ack asks for `status`. */
async function recordFeedback(tx: Sql, messages: readonly C2dMessage[], status: FeedbackStatus, now: number): Promise<void> {
  const records = messages.filter((m) => wantsFeedback(m.ack, status)).map((m) => JSON.stringify(feedbackRecordOf(m, status, now)));
  if (records.length > 0) await tx.query(SQL.insertRecords, [records]);
}
