import type { C2dMessage, C2dTarget, FeedbackAck, FeedbackBatch, FeedbackStatus, NewC2dMessage } from '../domain/c2d.js';

/** The result of enqueue when the target's queue already holds `maxDepth` messages. */
export const QUEUE_FULL = 'queue-full' as const;

/**
 * Durable cloud-to-device queues, one per identity (device, or device/module), and the feedback the hub owes the
 * back end. Every adapter passes test/contract/c2d-store.contract.ts. A promise resolves only once what it did is
 * durable. Times are milliseconds since the Unix epoch and are always passed in; the store reads no clock.
 *
 * Queues
 * - A message is *visible* when it is not locked (never locked, released, or its lock ended: `lockedUntil <= now`)
 *   and not expired (`expiryTime > now`). `lockNext` takes the visible message with the lowest sequence number.
 * - Locking sets the given lock token and `lockedUntil`, and adds 1 to `deliveryCount`.
 * - `settle` and `release` act only when the lock token is the message's current one and
 *   `lockedUntil > now`; otherwise they resolve undefined (the lock was lost) and change nothing.
 * - Removing a message with a status (settle, expire, purge) appends a feedback record in the same transaction when
 *   `wantsFeedback(ack, status)` (domain/c2d.ts); no status, no record.
 * - `count` counts the messages in the queue that have not expired, locked or not.
 * - Lock tokens are unique across the store (callers pass fresh UUIDs).
 *
 * Feedback
 * - Records wait until `sealFeedback` moves up to `max` of the oldest into a new batch (FIFO), atomically.
 * - Batches are locked, settled and released like queue messages, by lock token, oldest first.
 */
export interface C2dStore {
  /**
   * Appends to the target's queue; resolves the stored message, or QUEUE_FULL (nothing stored). With `lock`, a
   * message that would be the queue's first visible one (no visible message before it, and itself not expired) is
   * stored already locked, as if lockNext had taken it at once (deliveryCount 1), so that a device waiting for it
   * costs one write instead of two; otherwise `lock` is ignored.
   */
  enqueue(message: NewC2dMessage, maxDepth: number, lock?: LockRequest): Promise<C2dMessage | typeof QUEUE_FULL>;
  /**
   * Locks the target's next visible message; `message` is undefined when there is none. Visible messages already
   * delivered `maxDeliveryCount` times are removed on the way (feedback DeliveryCountExceeded) and listed in
   * `deadLettered`: a device that takes a message and never settles it cannot hold its queue forever.
   */
  lockNext(target: C2dTarget, lock: LockRequest): Promise<{ message?: C2dMessage; deadLettered: C2dMessage[] }>;
  /**
   * Removes a locked message; with a status, records feedback when its ack asks for it. Resolves which message it
   * was (not its content: settling is the commonest write, and reading the content back cost a third of it).
   */
  settle(target: C2dTarget, lockToken: string, now: number, status?: FeedbackStatus): Promise<SettledC2dMessage | undefined>;
  /**
   * Unlocks a locked message: visible again, deliveryCount kept. With `maxDeliveryCount`, a message already
   * delivered that many times is removed instead (feedback DeliveryCountExceeded) and `deadLettered` is true.
   */
  release(target: C2dTarget, lockToken: string, now: number, maxDeliveryCount?: number): Promise<{ message: C2dMessage; deadLettered: boolean } | undefined>;
  /** Removes up to `limit` messages (any target) whose expiry has passed and that are not locked; feedback Expired. */
  expire(now: number, limit: number): Promise<C2dMessage[]>;
  /** Removes every message of the target, locked or not; feedback Purged. Resolves how many. */
  purge(target: C2dTarget, now: number): Promise<number>;
  /** Drops the queues of a device and all its modules, without feedback (the device was deleted). */
  dropDevice(deviceId: string): Promise<void>;
  count(target: C2dTarget, now: number): Promise<number>;

  /** Records waiting to be sealed into a batch. */
  pendingFeedbackCount(): Promise<number>;
  /** Moves up to `max` of the oldest waiting records, in order, into a new batch; resolves how many (0: none wait, no batch). */
  sealFeedback(batchId: string, max: number, now: number): Promise<number>;
  /** Locks the oldest visible batch (not locked, or its lock ended); adds 1 to its deliveryCount. */
  lockNextFeedback(lock: LockRequest): Promise<FeedbackBatch | undefined>;
  /** Removes a locked batch (the back end accepted it, or it is given up); resolves whether the lock held one. */
  settleFeedback(lockToken: string, now: number): Promise<boolean>;
  releaseFeedback(lockToken: string, now: number): Promise<FeedbackBatch | undefined>;
  /**
   * Removes batches enqueued before `enqueuedBefore` that are not locked, and visible batches already delivered
   * `maxDeliveryCount` times; resolves how many.
   */
  expireFeedback(enqueuedBefore: number, maxDeliveryCount: number, now: number): Promise<number>;

  close(): Promise<void>;
}

/** The message a settle removed. */
export interface SettledC2dMessage extends C2dTarget {
  sequenceNumber: number;
  ack: FeedbackAck;
}

export interface LockRequest {
  /** A fresh UUID: the lock token the device (or back end) settles with. */
  token: string;
  /** When the lock ends. */
  until: number;
  now: number;
  maxDeliveryCount: number;
}
