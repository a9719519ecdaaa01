import { enqueuedMessage, feedbackRecordFor, feedbackRecordOf, lockedMessage, wantsFeedback, type C2dMessage, type C2dTarget, type FeedbackAck, type FeedbackBatch, type FeedbackRecord, type FeedbackStatus, type NewC2dMessage } from '../../domain/c2d.js';
import type { MessageProperties } from '../../domain/message.js';
import { QUEUE_FULL, type C2dStore, type LockRequest, type SettledC2dMessage } from '../../ports/c2d-store.js';
import { messageKey, messageParams, prepareC2dStatements, toBatch, toMessage, type C2dStatements, type MessageKey } from './c2d-statements.js';
import { queueKey, settledOf, unlocked, type QueueKey } from '../c2d-rows.js';
import { C2dLockHints, type LockHint } from './c2d-lock-hints.js';
import type { SqliteDatabase } from './database.js';
import { TransactionGroupCommit } from './transaction-group-commit.js';

/**
 * Writes per transaction at most. A C2D write is a few statements and a savepoint, roughly 10-20 µs, so a full batch
 * keeps the event loop from its sockets for 5-10 ms.
 */
const MAX_BATCH = 512;

/**
 * C2dStore on the c2d_* tables (migration 4) of a database opened by openSqliteDatabase. Every write goes through a
 * group commit: the writes of one event-loop turn share one transaction and one fsync, each in its own savepoint,
 * and each promise resolves once that transaction committed. Reads run directly. The database belongs to whoever
 * opened it: close() commits what is queued and leaves it open.
 */
export class SqliteC2dStore implements C2dStore {
  readonly #sql: C2dStatements;
  readonly #writes: TransactionGroupCommit;
  readonly #locks = new C2dLockHints();

  constructor(db: SqliteDatabase) {
    this.#sql = prepareC2dStatements(db);
    this.#writes = new TransactionGroupCommit(db, MAX_BATCH);
  }

  // enqueue and settle run for every message: not async (an async layer costs a promise and a turn). An invalid
  // target throws inside the write, which rejects that write alone.
  enqueue(message: NewC2dMessage, maxDepth: number, lock?: LockRequest): Promise<C2dMessage | typeof QUEUE_FULL> {
    return this.#writes.run(() => {
      const key = queueKey(message);
      const now = lock?.now ?? 0;
      const queue = this.#sql.queueState.get(now, now, key.deviceId, key.moduleId)!;
      // Every stored message counts, expired ones not yet removed included: the table never holds more than maxDepth.
      if (queue.depth >= maxDepth) return QUEUE_FULL;
      const sequenceNumber = this.#sql.nextSequence.get(key.deviceId, key.moduleId)!;
      const first = lock !== undefined && message.expiryTime > lock.now && queue.visible === 0;
      this.#sql.insertMessage.run(...messageParams(message, sequenceNumber, first ? lock : undefined));
      if (!first) return enqueuedMessage(message, sequenceNumber);
      const locked = lockedMessage(message, sequenceNumber, lock);
      this.#rememberLock(locked);
      return locked;
    });
  }

  async lockNext(target: C2dTarget, lock: LockRequest): Promise<{ message?: C2dMessage; deadLettered: C2dMessage[] }> {
    const key = queueKey(target);
    const { token, until, now, maxDeliveryCount } = lock;
    return this.#writes.run(() => {
      const deadLettered: C2dMessage[] = [];
      for (;;) {
        const next = this.#sql.nextVisible.get({ deviceId: key.deviceId, moduleId: key.moduleId, now });
        if (next === undefined) return { deadLettered };
        const position = { deviceId: key.deviceId, moduleId: key.moduleId, sequenceNumber: next.sequence_number };
        if (next.delivery_count >= maxDeliveryCount) {
          deadLettered.push(this.#remove(position, now, 'DeliveryCountExceeded'));
          continue;
        }
        const locked = toMessage(this.#sql.lock.get({ deviceId: key.deviceId, moduleId: key.moduleId, sequenceNumber: next.sequence_number, token, until, now })!);
        this.#rememberLock(locked);
        return { message: locked, deadLettered };
      }
    });
  }

  settle(target: C2dTarget, lockToken: string, now: number, status?: FeedbackStatus): Promise<SettledC2dMessage | undefined> {
    return this.#writes.run(() => {
      const key = queueKey(target);
      const hint = this.#locks.take(lockToken, key);
      if (hint !== undefined) {
        // The lock this store granted: deleted by key, the row still checked (the hint may be stale).
        if (this.#sql.deleteHeldAt.run(key.deviceId, key.moduleId, hint.sequenceNumber, lockToken, now).changes === 0) return undefined;
        return this.#settled(key, hint, status, now);
      }
      // A lock granted before a restart (an HTTP lock token outlives it), or a write that was run again.
      const row = this.#sql.selectHeldForSettle.get(lockToken, key.deviceId, key.moduleId, now);
      if (row === undefined) return undefined;
      this.#sql.deleteAt.run(key.deviceId, key.moduleId, row.sequence_number);
      const { messageId } = JSON.parse(row.properties) as MessageProperties;
      return this.#settled(key, { sequenceNumber: row.sequence_number, ack: row.ack, generationId: row.generation_id, messageId }, status, now);
    });
  }

  #settled(key: QueueKey, m: Pick<LockHint, 'sequenceNumber' | 'ack' | 'generationId' | 'messageId'>, status: FeedbackStatus | undefined, now: number): SettledC2dMessage {
    if (status !== undefined && wantsFeedback(m.ack as FeedbackAck, status)) {
      this.#insertRecord(feedbackRecordFor({ messageId: m.messageId, deviceId: key.deviceId, generationId: m.generationId }, status, now));
    }
    return settledOf(key, m.sequenceNumber, m.ack);
  }

  #rememberLock(m: C2dMessage): void {
    const { deviceId, moduleId } = queueKey(m);
    this.#locks.remember(m.lockToken!, {
      deviceId,
      moduleId,
      sequenceNumber: m.sequenceNumber,
      ack: m.ack,
      generationId: m.generationId,
      messageId: m.content.properties.messageId,
      until: m.lockedUntil!,
    });
  }

  async release(
    target: C2dTarget,
    lockToken: string,
    now: number,
    maxDeliveryCount?: number,
  ): Promise<{ message: C2dMessage; deadLettered: boolean } | undefined> {
    const key = queueKey(target);
    return this.#writes.run(() => {
      this.#locks.forget(lockToken);
      const row = this.#sql.selectHeld.get({ deviceId: key.deviceId, moduleId: key.moduleId, token: lockToken, now });
      if (row === undefined) return undefined;
      if (maxDeliveryCount !== undefined && row.delivery_count >= maxDeliveryCount) {
        return { message: this.#remove(messageKey(row), now, 'DeliveryCountExceeded'), deadLettered: true };
      }
      return { message: toMessage(this.#sql.unlock.get(messageKey(row))!), deadLettered: false };
    });
  }

  async expire(now: number, limit: number): Promise<C2dMessage[]> {
    this.#locks.forgetEnded(now);
    if (!(limit > 0)) return []; // SQLite reads LIMIT -1 as "no limit"
    return this.#writes.run(() => this.#sql.selectExpired.all({ now, limit }).map((key) => this.#remove(key, now, 'Expired')));
  }

  async purge(target: C2dTarget, now: number): Promise<number> {
    const { deviceId, moduleId } = queueKey(target);
    return this.#writes.run(() => {
      for (const row of this.#sql.selectQueue.all(deviceId, moduleId)) {
        this.#recordFeedback(toMessage(row), 'Purged', now);
      }
      // The queue's row in c2d_queues stays, so sequence numbers go on where they were.
      return this.#sql.deleteQueue.run(deviceId, moduleId).changes;
    });
  }

  async dropDevice(deviceId: string): Promise<void> {
    await this.#writes.run(() => {
      this.#sql.deleteDeviceMessages.run(deviceId);
      this.#sql.deleteDeviceQueues.run(deviceId);
    });
  }

  async count(target: C2dTarget, now: number): Promise<number> {
    const { deviceId, moduleId } = queueKey(target);
    return this.#sql.unexpiredCount.get(deviceId, moduleId, now)!;
  }

  async pendingFeedbackCount(): Promise<number> {
    return this.#sql.pendingRecords.get()!;
  }

  async sealFeedback(batchId: string, max: number, now: number): Promise<number> {
    if (!(max > 0)) return 0;
    return this.#writes.run(() => {
      // SQLite writes the records' JSON itself: no row objects, no JSON.stringify (a third of sealing's cost).
      const taken = this.#sql.oldestRecordsAsJson.get(max)!;
      if (taken.count === 0) return 0;
      // The rows taken are the oldest, so they are exactly those up to the last one's id.
      this.#sql.deleteRecordsThrough.run(taken.last!);
      this.#sql.insertBatch.run(batchId, taken.body, now);
      return taken.count;
    });
  }

  async lockNextFeedback(lock: LockRequest): Promise<FeedbackBatch | undefined> {
    const { token, until, now } = lock;
    return this.#writes.run(() => {
      const row = this.#sql.lockNextBatch.get({ token, until, now });
      return row === undefined ? undefined : toBatch(row);
    });
  }

  async settleFeedback(lockToken: string, now: number): Promise<boolean> {
    // Only whether it was held: reading the batch's records back would parse them for nothing.
    return this.#writes.run(() => this.#sql.deleteHeldBatch.run(lockToken, now).changes === 1);
  }

  async releaseFeedback(lockToken: string, now: number): Promise<FeedbackBatch | undefined> {
    return this.#writes.run(() => {
      const row = this.#sql.unlockHeldBatch.get(lockToken, now);
      return row === undefined ? undefined : toBatch(row);
    });
  }

  async expireFeedback(enqueuedBefore: number, maxDeliveryCount: number, now: number): Promise<number> {
    return this.#writes.run(() => this.#sql.expireBatches.run({ enqueuedBefore, maxDeliveryCount, now }).changes);
  }

  async close(): Promise<void> {
    await this.#writes.close();
  }

  /** Deletes a message with feedback `status` (when its ack asks for it); returns it as it was, unlocked. */
  #remove(key: MessageKey, now: number, status: FeedbackStatus): C2dMessage {
    const message = toMessage(unlocked(this.#sql.deleteMessage.get(key)!));
    this.#recordFeedback(message, status, now);
    return message;
  }

  #recordFeedback(message: C2dMessage, status: FeedbackStatus, now: number): void {
    if (wantsFeedback(message.ack, status)) this.#insertRecord(feedbackRecordOf(message, status, now));
  }

  #insertRecord(r: FeedbackRecord): void {
    this.#sql.insertRecord.run(r.originalMessageId, r.enqueuedTimeUtc, r.statusCode, r.description, r.deviceId, r.deviceGenerationId);
  }
}
