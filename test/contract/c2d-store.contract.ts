import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe } from 'node:test';
import { feedbackRecordsOf, type C2dMessage, type C2dTarget, type FeedbackAck, type FeedbackBatch, type FeedbackRecord, type FeedbackStatus, type NewC2dMessage } from '../../src/domain/c2d.js';
import { QUEUE_FULL, type C2dStore, type LockRequest, type SettledC2dMessage } from '../../src/ports/c2d-store.js';
import { queueKey, settledOf } from '../../src/storage/c2d-rows.js';
import { storeTestFor } from './store-test.js';

export interface C2dStoreInstance {
  store: C2dStore;
  /** Closes the store and opens the same data again; only for backends that persist. */
  reopen?(): Promise<C2dStore>;
  destroy(): Promise<void>;
}

export interface C2dStoreHarness {
  name: string;
  create(): Promise<C2dStoreInstance>;
}

const T0 = Date.parse('2025-01-02T03:04:05.678Z');
const HOUR = 3_600_000;
const LOCK_MS = 60_000;
const DEPTH = 50;
const DEVICE: C2dTarget = { deviceId: 'dev-1' };
const MODULE: C2dTarget = { deviceId: 'dev-1', moduleId: 'mod-a' };
const OTHER: C2dTarget = { deviceId: 'dev-2' };

/** What the sender would hand the store; `id` becomes the message id and the body. */
function newMessage(target: C2dTarget, id: string, changes: Partial<NewC2dMessage> = {}): NewC2dMessage {
  const message: NewC2dMessage = {
    deviceId: target.deviceId,
    content: { body: Buffer.from(`body of ${id}`), properties: { messageId: id }, applicationProperties: { 'iothub-ack': changes.ack ?? 'none' } },
    ack: 'none',
    generationId: `generation of ${target.deviceId}`,
    enqueuedTime: T0,
    expiryTime: T0 + HOUR,
    ...changes,
  };
  if (target.moduleId !== undefined) message.moduleId = target.moduleId;
  return message;
}

/** The message as the store holds it, not locked. */
function stored(message: NewC2dMessage, sequenceNumber: number, deliveryCount = 0): C2dMessage {
  return { ...message, sequenceNumber, deliveryCount };
}

/** The message as the store holds it while `lock` holds it. */
/** What settle resolves for a message. */
function settledAs(message: C2dMessage): SettledC2dMessage {
  return settledOf(queueKey(message), message.sequenceNumber, message.ack);
}

function held(message: NewC2dMessage, sequenceNumber: number, deliveryCount: number, lock: LockRequest): C2dMessage {
  return { ...stored(message, sequenceNumber, deliveryCount), lockToken: lock.token, lockedUntil: lock.until };
}

function lockAt(now: number, changes: Partial<LockRequest> = {}): LockRequest {
  return { token: randomUUID(), until: now + LOCK_MS, now, maxDeliveryCount: 10, ...changes };
}

const DESCRIPTIONS: Record<FeedbackStatus, string> = {
  Success: 'Success',
  Expired: 'Message expired',
  DeliveryCountExceeded: 'Message delivery count exceeded',
  Rejected: 'Message rejected',
  Purged: 'Message purged',
};

function record(message: NewC2dMessage, status: FeedbackStatus, now: number): FeedbackRecord {
  return {
    originalMessageId: message.content.properties.messageId!,
    enqueuedTimeUtc: new Date(now).toISOString(),
    statusCode: status,
    description: DESCRIPTIONS[status],
    deviceId: message.deviceId,
    deviceGenerationId: message.generationId,
  };
}

async function enqueueAll(store: C2dStore, messages: readonly NewC2dMessage[]): Promise<C2dMessage[]> {
  const result: C2dMessage[] = [];
  for (const message of messages) {
    const stored = await store.enqueue(message, DEPTH);
    assert.notEqual(stored, QUEUE_FULL);
    result.push(stored as C2dMessage);
  }
  return result;
}

/** lockNext that must find a message and dead-letter none. */
async function take(store: C2dStore, target: C2dTarget, lock: LockRequest): Promise<C2dMessage> {
  const { message, deadLettered } = await store.lockNext(target, lock);
  assert.deepEqual(deadLettered, []);
  assert.ok(message, 'a message was locked');
  return message;
}

/** Every waiting feedback record, in order: sealed into one batch, which is then locked and read. */
async function feedback(store: C2dStore, now: number): Promise<FeedbackRecord[]> {
  const batchId = randomUUID();
  const sealed = await store.sealFeedback(batchId, 10_000, now);
  if (sealed === 0) return [];
  for (let batch = await store.lockNextFeedback(lockAt(now)); batch; batch = await store.lockNextFeedback(lockAt(now))) {
    if (batch.batchId !== batchId) continue;
    const records = feedbackRecordsOf(batch);
    assert.equal(records.length, sealed, 'sealFeedback resolved how many records the batch holds');
    return records;
  }
  return assert.fail('the batch just sealed could not be locked');
}

/** A batch with its body read: what it is, field by field. */
function withRecords(batch: FeedbackBatch | undefined): (Omit<FeedbackBatch, 'body'> & { records: FeedbackRecord[] }) | undefined {
  if (batch === undefined) return undefined;
  const { body, ...rest } = batch;
  return { ...rest, records: feedbackRecordsOf({ body }) };
}

const byQueuePosition = (a: C2dMessage, b: C2dMessage) =>
  `${a.deviceId}/${a.moduleId ?? ''}`.localeCompare(`${b.deviceId}/${b.moduleId ?? ''}`) || a.sequenceNumber - b.sequenceNumber;

export function c2dStoreContract(harness: C2dStoreHarness): void {
  const storeTest = storeTestFor(harness);

  describe(`C2dStore contract: ${harness.name}`, () => {
    describe('queues', () => {
      storeTest('enqueue numbers messages from 1 and lockNext hands them out in FIFO order', async ({ store }) => {
        const messages = ['a', 'b', 'c'].map((id) => newMessage(DEVICE, id));
        assert.deepEqual(await enqueueAll(store, messages), [stored(messages[0]!, 1), stored(messages[1]!, 2), stored(messages[2]!, 3)]);
        const locks = [lockAt(T0), lockAt(T0), lockAt(T0)];
        for (const [i, lock] of locks.entries()) {
          assert.deepEqual(await store.lockNext(DEVICE, lock), { message: held(messages[i]!, i + 1, 1, lock), deadLettered: [] });
        }
        assert.deepEqual(await store.lockNext(DEVICE, lockAt(T0)), { deadLettered: [] });
      });

      storeTest('enqueue with a lock stores a message locked at once when no visible message is before it', async ({ store }) => {
        const first = newMessage(DEVICE, 'first');
        const lock = lockAt(T0);
        assert.deepEqual(await store.enqueue(first, DEPTH, lock), held(first, 1, 1, lock), 'locked: its first delivery');
        assert.deepEqual(await store.lockNext(DEVICE, lockAt(T0)), { deadLettered: [] }, 'nobody else gets it');
        assert.equal(await store.count(DEVICE, T0), 1);
        // Only locked messages before it: the next one is first among the visible, so it is locked at once too.
        const second = newMessage(DEVICE, 'second');
        const lock2 = lockAt(T0);
        assert.deepEqual(await store.enqueue(second, DEPTH, lock2), held(second, 2, 1, lock2));
        assert.deepEqual(await store.settle(DEVICE, lock.token, T0 + 1), settledAs(held(first, 1, 1, lock)), 'settled with the lock it was stored under');
        // Released, it is an ordinary message that was delivered once.
        assert.ok(await store.release(DEVICE, lock2.token, T0 + 1));
        const again = lockAt(T0 + 2);
        assert.deepEqual(await store.lockNext(DEVICE, again), { message: held(second, 2, 2, again), deadLettered: [] });
      });

      storeTest('enqueue with a lock stores a message unlocked when a visible one waits before it (FIFO holds)', async ({ store }) => {
        const [waiting] = await enqueueAll(store, [newMessage(DEVICE, 'waiting')]);
        const later = newMessage(DEVICE, 'later');
        assert.deepEqual(await store.enqueue(later, DEPTH, lockAt(T0)), stored(later, 2));
        const lock = lockAt(T0);
        assert.deepEqual(await store.lockNext(DEVICE, lock), { message: held(waiting!, 1, 1, lock), deadLettered: [] });
        // Another queue is not in the way.
        const other = newMessage(OTHER, 'other');
        const otherLock = lockAt(T0);
        assert.deepEqual(await store.enqueue(other, DEPTH, otherLock), held(other, 1, 1, otherLock));
        // A message whose lock ended is visible again: it is in the way.
        const stale = newMessage(MODULE, 'stale');
        const short = lockAt(T0, { until: T0 + 10 });
        assert.deepEqual(await store.enqueue(stale, DEPTH, short), held(stale, 1, 1, short));
        const behind = newMessage(MODULE, 'behind');
        assert.deepEqual(await store.enqueue(behind, DEPTH, lockAt(T0 + 10)), stored(behind, 2));
      });

      storeTest('enqueue with a lock: expired messages are not in the way, an expired message is never locked, a full queue still refuses', async ({ store }) => {
        await enqueueAll(store, [newMessage(DEVICE, 'old', { expiryTime: T0 + 5 })]);
        const fresh = newMessage(DEVICE, 'fresh');
        const lock = lockAt(T0 + 5);
        assert.deepEqual(await store.enqueue(fresh, DEPTH, lock), held(fresh, 2, 1, lock));
        const dead = newMessage(OTHER, 'dead', { expiryTime: T0 });
        assert.deepEqual(await store.enqueue(dead, DEPTH, lockAt(T0)), stored(dead, 1));
        assert.equal(await store.enqueue(newMessage(DEVICE, 'refused'), 2, lockAt(T0 + 5)), QUEUE_FULL);
        assert.equal(await store.count(DEVICE, T0), 2);
      });

      storeTest('an empty or unknown queue has nothing to lock and counts 0', async ({ store }) => {
        assert.deepEqual(await store.lockNext(DEVICE, lockAt(T0)), { deadLettered: [] });
        assert.equal(await store.count(DEVICE, T0), 0);
        assert.equal(await store.count(MODULE, T0), 0);
      });

      storeTest('a full queue refuses with QUEUE_FULL, stores nothing and uses up no sequence number', async ({ store }) => {
        const messages = ['a', 'b', 'c'].map((id) => newMessage(DEVICE, id));
        for (const message of messages) assert.notEqual(await store.enqueue(message, 3), QUEUE_FULL);
        await take(store, DEVICE, lockAt(T0)); // locked messages count
        assert.equal(await store.enqueue(newMessage(DEVICE, 'refused'), 3), QUEUE_FULL);
        assert.equal(await store.count(DEVICE, T0), 3);
        assert.equal(await store.enqueue(newMessage(DEVICE, 'zero'), 0), QUEUE_FULL);
        assert.equal(await store.count(DEVICE, T0), 3);
        // The other queues are not full.
        assert.deepEqual(await store.enqueue(newMessage(MODULE, 'm'), 3), stored(newMessage(MODULE, 'm'), 1));
        // A larger limit admits it, with the next number.
        const d = newMessage(DEVICE, 'd');
        assert.deepEqual(await store.enqueue(d, 4), stored(d, 4));
        const locks = [lockAt(T0), lockAt(T0), lockAt(T0)];
        const ids = [];
        for (const lock of locks) ids.push((await take(store, DEVICE, lock)).content.properties.messageId);
        assert.deepEqual(ids, ['b', 'c', 'd']);
      });

      storeTest('messages that expired but were not removed yet still count toward maxDepth', async ({ store }) => {
        await enqueueAll(store, [newMessage(DEVICE, 'old', { expiryTime: T0 + 10 }), newMessage(DEVICE, 'b')]);
        assert.equal(await store.enqueue(newMessage(DEVICE, 'c', { enqueuedTime: T0 + 20 }), 2), QUEUE_FULL);
        assert.equal((await store.expire(T0 + 20, 10)).length, 1);
        const c = newMessage(DEVICE, 'c', { enqueuedTime: T0 + 20 });
        assert.deepEqual(await store.enqueue(c, 2), stored(c, 3));
      });

      storeTest('lockNext skips locked and expired messages and takes the lowest visible sequence number', async ({ store }) => {
        const messages = [
          newMessage(DEVICE, 'a'),
          newMessage(DEVICE, 'expired', { expiryTime: T0 + 10 }),
          newMessage(DEVICE, 'expires-now', { expiryTime: T0 + 20 }),
          newMessage(DEVICE, 'd'),
          newMessage(DEVICE, 'e'),
        ];
        await enqueueAll(store, messages);
        const first = lockAt(T0);
        assert.deepEqual(await take(store, DEVICE, first), held(messages[0]!, 1, 1, first));
        const second = lockAt(T0 + 20);
        assert.deepEqual(await take(store, DEVICE, second), held(messages[3]!, 4, 1, second));
        const third = lockAt(T0 + 20);
        assert.deepEqual(await take(store, DEVICE, third), held(messages[4]!, 5, 1, third));
        assert.deepEqual(await store.lockNext(DEVICE, lockAt(T0 + 20)), { deadLettered: [] });
      });

      storeTest('a lock that ended makes the message visible again; locking it again adds to deliveryCount', async ({ store }) => {
        const [a, b] = [newMessage(DEVICE, 'a'), newMessage(DEVICE, 'b')];
        await enqueueAll(store, [a, b]);
        const first = lockAt(T0, { until: T0 + 100 });
        assert.deepEqual(await take(store, DEVICE, first), held(a, 1, 1, first));
        // Still locked 1 ms before the end: b comes next.
        const onB = lockAt(T0 + 99, { until: T0 + 1000 });
        assert.deepEqual(await take(store, DEVICE, onB), held(b, 2, 1, onB));
        // lockedUntil <= now: the lock has ended.
        assert.equal(await store.count(DEVICE, T0 + 100), 2);
        const again = lockAt(T0 + 100, { until: T0 + 200 });
        assert.deepEqual(await take(store, DEVICE, again), held(a, 1, 2, again));
        // The first token no longer works, the new one does.
        assert.equal(await store.settle(DEVICE, first.token, T0 + 150), undefined);
        const third = lockAt(T0 + 200);
        assert.deepEqual(await take(store, DEVICE, third), held(a, 1, 3, third));
        assert.deepEqual(await store.settle(DEVICE, third.token, T0 + 201), settledAs(held(a, 1, 3, third)));
      });

      storeTest('settle with the current token before the lock ends removes the message and resolves it', async ({ store }) => {
        const [a, b] = [newMessage(DEVICE, 'a', { ack: 'full' }), newMessage(DEVICE, 'b')];
        await enqueueAll(store, [a, b]);
        const lock = lockAt(T0, { until: T0 + 100 });
        await take(store, DEVICE, lock);
        assert.deepEqual(await store.settle(DEVICE, lock.token, T0 + 99), settledAs(held(a, 1, 1, lock)));
        assert.equal(await store.count(DEVICE, T0 + 99), 1);
        assert.equal(await store.settle(DEVICE, lock.token, T0 + 99), undefined, 'a second settle finds nothing');
        assert.equal(await store.pendingFeedbackCount(), 0, 'no status, no feedback');
        const next = lockAt(T0 + 200);
        assert.deepEqual(await take(store, DEVICE, next), held(b, 2, 1, next));
      });

      storeTest('settle and release with a wrong token, another target or after lockedUntil change nothing', async ({ store }) => {
        const a = newMessage(DEVICE, 'a', { ack: 'full' });
        await enqueueAll(store, [a, newMessage(MODULE, 'm', { ack: 'full' }), newMessage(OTHER, 'o', { ack: 'full' })]);
        const lock = lockAt(T0, { until: T0 + 100 });
        await take(store, DEVICE, lock);
        const otherLock = lockAt(T0);
        await take(store, OTHER, otherLock);
        for (const status of [undefined, 'Success', 'Rejected'] as const) {
          assert.equal(await store.settle(DEVICE, randomUUID(), T0 + 1, status), undefined);
          assert.equal(await store.settle(DEVICE, otherLock.token, T0 + 1, status), undefined);
          assert.equal(await store.settle(MODULE, lock.token, T0 + 1, status), undefined);
          assert.equal(await store.settle(OTHER, lock.token, T0 + 1, status), undefined);
          assert.equal(await store.settle({ deviceId: 'DEV-1' }, lock.token, T0 + 1, status), undefined);
        }
        for (const max of [undefined, 1]) {
          assert.equal(await store.release(DEVICE, randomUUID(), T0 + 1, max), undefined);
          assert.equal(await store.release(DEVICE, otherLock.token, T0 + 1, max), undefined);
          assert.equal(await store.release(MODULE, lock.token, T0 + 1, max), undefined);
        }
        // Nothing changed: all three still queued, the lock still holds, no feedback.
        assert.equal(await store.count(DEVICE, T0 + 1), 1);
        assert.equal(await store.count(MODULE, T0 + 1), 1);
        assert.equal(await store.count(OTHER, T0 + 1), 1);
        assert.deepEqual(await store.lockNext(DEVICE, lockAt(T0 + 99)), { deadLettered: [] });
        assert.equal(await store.pendingFeedbackCount(), 0);
        // At lockedUntil the lock has ended: neither settle nor release act.
        assert.equal(await store.settle(DEVICE, lock.token, T0 + 100, 'Success'), undefined);
        assert.equal(await store.release(DEVICE, lock.token, T0 + 100), undefined);
        assert.equal(await store.release(DEVICE, lock.token, T0 + 100, 1), undefined);
        assert.equal(await store.count(DEVICE, T0 + 100), 1);
        assert.equal(await store.pendingFeedbackCount(), 0);
        // The message is visible again, delivered once so far.
        const next = lockAt(T0 + 100);
        assert.deepEqual(await take(store, DEVICE, next), held(a, 1, 2, next));
      });

      storeTest('release makes the message visible again at once and keeps its deliveryCount', async ({ store }) => {
        const [a, b] = [newMessage(DEVICE, 'a', { ack: 'full' }), newMessage(DEVICE, 'b')];
        await enqueueAll(store, [a, b]);
        const lock = lockAt(T0);
        await take(store, DEVICE, lock);
        assert.deepEqual(await store.release(DEVICE, lock.token, T0 + 1), { message: stored(a, 1, 1), deadLettered: false });
        assert.equal(await store.release(DEVICE, lock.token, T0 + 1), undefined, 'the token went with the lock');
        assert.equal(await store.settle(DEVICE, lock.token, T0 + 1, 'Success'), undefined);
        const again = lockAt(T0 + 2);
        assert.deepEqual(await take(store, DEVICE, again), held(a, 1, 2, again));
        // Below maxDeliveryCount a release only unlocks.
        assert.deepEqual(await store.release(DEVICE, again.token, T0 + 3, 3), { message: stored(a, 1, 2), deadLettered: false });
        assert.equal(await store.count(DEVICE, T0 + 3), 2);
        assert.equal(await store.pendingFeedbackCount(), 0);
      });

      storeTest('release with maxDeliveryCount dead-letters a message delivered that many times', async ({ store }) => {
        const [a, b] = [newMessage(DEVICE, 'a', { ack: 'negative' }), newMessage(DEVICE, 'b', { ack: 'positive' })];
        await enqueueAll(store, [a, b]);
        for (let delivery = 1; delivery <= 2; delivery++) {
          const lock = lockAt(T0 + delivery);
          assert.deepEqual(await take(store, DEVICE, lock), held(a, 1, delivery, lock));
          const expected = { message: stored(a, 1, delivery), deadLettered: delivery === 2 };
          assert.deepEqual(await store.release(DEVICE, lock.token, T0 + delivery, 2), expected);
        }
        assert.equal(await store.count(DEVICE, T0 + 3), 1);
        const lock = lockAt(T0 + 3);
        assert.deepEqual(await take(store, DEVICE, lock), held(b, 2, 1, lock));
        // b asked for positive feedback only: dead-lettering it leaves no record.
        assert.deepEqual(await store.release(DEVICE, lock.token, T0 + 4, 1), { message: stored(b, 2, 1), deadLettered: true });
        assert.deepEqual(await feedback(store, T0 + 5), [record(a, 'DeliveryCountExceeded', T0 + 2)]);
      });

      storeTest('lockNext dead-letters visible messages at maxDeliveryCount and goes on to the next', async ({ store }) => {
        const messages = [
          newMessage(DEVICE, 'a', { ack: 'full' }),
          newMessage(DEVICE, 'b', { ack: 'positive' }),
          newMessage(DEVICE, 'c', { ack: 'negative' }),
          newMessage(DEVICE, 'd', { ack: 'full' }),
        ];
        const [a, b, c, d] = messages as [NewC2dMessage, NewC2dMessage, NewC2dMessage, NewC2dMessage];
        await enqueueAll(store, messages);
        for (let i = 0; i < 2; i++) await take(store, DEVICE, lockAt(T0, { until: T0 + 10, maxDeliveryCount: 1 }));
        const onC = lockAt(T0, { until: T0 + 1000, maxDeliveryCount: 1 });
        await take(store, DEVICE, onC);
        // a and b: locks ended, delivered once; c: still locked, not touched.
        const lock = lockAt(T0 + 10, { maxDeliveryCount: 1 });
        assert.deepEqual(await store.lockNext(DEVICE, lock), {
          message: held(d, 4, 1, lock),
          deadLettered: [stored(a, 1, 1), stored(b, 2, 1)],
        });
        assert.equal(await store.count(DEVICE, T0 + 10), 2);
        assert.deepEqual(await store.lockNext(DEVICE, lockAt(T0 + 11, { maxDeliveryCount: 1 })), { deadLettered: [] });
        assert.deepEqual(await feedback(store, T0 + 20), [record(a, 'DeliveryCountExceeded', T0 + 10)]);
        assert.deepEqual(await store.settle(DEVICE, onC.token, T0 + 20, 'Rejected'), settledAs(held(c, 3, 1, onC)));
      });

      storeTest('lockNext dead-letters every visible message when all reached maxDeliveryCount', async ({ store }) => {
        const [a, b] = [newMessage(DEVICE, 'a', { ack: 'negative' }), newMessage(DEVICE, 'b', { ack: 'negative' })];
        await enqueueAll(store, [a, b]);
        for (let i = 0; i < 2; i++) await take(store, DEVICE, lockAt(T0, { until: T0 + 5 }));
        assert.deepEqual(await store.lockNext(DEVICE, lockAt(T0 + 5, { maxDeliveryCount: 1 })), {
          deadLettered: [stored(a, 1, 1), stored(b, 2, 1)],
        });
        assert.equal(await store.count(DEVICE, T0 + 5), 0);
        assert.deepEqual(await feedback(store, T0 + 6), [record(a, 'DeliveryCountExceeded', T0 + 5), record(b, 'DeliveryCountExceeded', T0 + 5)]);
      });

      storeTest('settle with a status records feedback exactly when the ack asks for that outcome', async ({ store }) => {
        const cases: Array<[FeedbackAck, FeedbackStatus, boolean]> = [
          ['none', 'Success', false],
          ['none', 'Rejected', false],
          ['positive', 'Success', true],
          ['positive', 'Rejected', false],
          ['negative', 'Success', false],
          ['negative', 'Rejected', true],
          ['full', 'Success', true],
          ['full', 'Rejected', true],
        ];
        const expected: FeedbackRecord[] = [];
        for (const [i, [ack, status, wanted]] of cases.entries()) {
          const message = newMessage(DEVICE, `${ack}-${status}`, { ack, generationId: `gen-${i}` });
          await enqueueAll(store, [message]);
          const lock = lockAt(T0 + i);
          await take(store, DEVICE, lock);
          assert.deepEqual(await store.settle(DEVICE, lock.token, T0 + i, status), settledAs(held(message, i + 1, 1, lock)));
          if (wanted) expected.push(record(message, status, T0 + i));
          assert.equal(await store.pendingFeedbackCount(), expected.length, `${ack} / ${status}`);
        }
        const plain = newMessage(DEVICE, 'no-status', { ack: 'full' });
        await enqueueAll(store, [plain]);
        const lock = lockAt(T0 + 10);
        await take(store, DEVICE, lock);
        await store.settle(DEVICE, lock.token, T0 + 10);
        assert.equal(await store.pendingFeedbackCount(), 4);
        assert.deepEqual(await feedback(store, T0 + 20), expected);
      });

      storeTest('expire removes only expired messages that are not locked, with Expired feedback', async ({ store }) => {
        const free = newMessage(DEVICE, 'free', { ack: 'full', expiryTime: T0 + 10 });
        const lockedNow = newMessage(DEVICE, 'locked', { ack: 'full', expiryTime: T0 + 10 });
        const lockEnded = newMessage(DEVICE, 'lock-ended', { ack: 'negative', expiryTime: T0 + 20 });
        const atNow = newMessage(OTHER, 'at-now', { ack: 'positive', expiryTime: T0 + 50 });
        const alive = newMessage(OTHER, 'alive', { ack: 'full', expiryTime: T0 + 51 });
        const onModule = newMessage(MODULE, 'module', { ack: 'none', expiryTime: T0 + 1 });
        // lockNext takes lockEnded first, then lockedNow (free stays unlocked: it is enqueued last).
        await enqueueAll(store, [lockEnded, lockedNow, atNow, alive, onModule, free]);
        await take(store, DEVICE, lockAt(T0, { until: T0 + 30 }));
        const lock = lockAt(T0, { until: T0 + 100 });
        await take(store, DEVICE, lock);
        const expired = await store.expire(T0 + 50, 100);
        assert.deepEqual(expired.sort(byQueuePosition), [stored(lockEnded, 1, 1), stored(free, 3), stored(onModule, 1), stored(atNow, 1)]);
        assert.equal(await store.count(DEVICE, T0), 1);
        assert.equal(await store.count(OTHER, T0), 1);
        assert.equal(await store.count(MODULE, T0), 0);
        assert.deepEqual(await store.expire(T0 + 50, 100), []);
        const records = await feedback(store, T0 + 60);
        const byId = (x: FeedbackRecord, y: FeedbackRecord) => x.originalMessageId.localeCompare(y.originalMessageId);
        assert.deepEqual(records.sort(byId), [record(free, 'Expired', T0 + 50), record(lockEnded, 'Expired', T0 + 50)].sort(byId));
        // The locked one is still held by its lock.
        assert.deepEqual(await store.settle(DEVICE, lock.token, T0 + 60), settledAs(held(lockedNow, 2, 1, lock)));
      });

      storeTest('expire removes at most `limit` messages per call', async ({ store }) => {
        const messages = ['a', 'b', 'c', 'd', 'e'].map((id, i) => newMessage(i % 2 ? DEVICE : OTHER, id, { expiryTime: T0 + i }));
        await enqueueAll(store, messages);
        assert.deepEqual(await store.expire(T0 + 10, 0), []);
        const removed = [await store.expire(T0 + 10, 2), await store.expire(T0 + 10, 2), await store.expire(T0 + 10, 2)];
        assert.deepEqual(removed.map((r) => r.length), [2, 2, 1]);
        const ids = removed.flat().map((m) => m.content.properties.messageId).sort();
        assert.deepEqual(ids, ['a', 'b', 'c', 'd', 'e']);
        assert.equal(await store.count(DEVICE, T0), 0);
        assert.equal(await store.count(OTHER, T0), 0);
      });

      storeTest('purge removes locked and unlocked messages with Purged feedback; numbering goes on', async ({ store }) => {
        const messages = [
          newMessage(DEVICE, 'a', { ack: 'full' }),
          newMessage(DEVICE, 'b', { ack: 'positive' }),
          newMessage(DEVICE, 'c', { ack: 'negative', expiryTime: T0 + 5 }),
        ];
        await enqueueAll(store, [...messages, newMessage(MODULE, 'm', { ack: 'full' }), newMessage(OTHER, 'o', { ack: 'full' })]);
        const lock = lockAt(T0);
        await take(store, DEVICE, lock);
        assert.equal(await store.purge(DEVICE, T0 + 10), 3);
        assert.equal(await store.count(DEVICE, T0), 0);
        assert.deepEqual(await store.lockNext(DEVICE, lockAt(T0 + 10)), { deadLettered: [] });
        assert.equal(await store.settle(DEVICE, lock.token, T0 + 11, 'Success'), undefined);
        assert.equal(await store.count(MODULE, T0), 1);
        assert.equal(await store.count(OTHER, T0), 1);
        assert.deepEqual(await feedback(store, T0 + 20), [record(messages[0]!, 'Purged', T0 + 10), record(messages[2]!, 'Purged', T0 + 10)]);
        assert.equal(await store.purge(DEVICE, T0 + 30), 0);
        const d = newMessage(DEVICE, 'd');
        assert.deepEqual(await store.enqueue(d, DEPTH), stored(d, 4));
      });

      storeTest('dropDevice removes the queues of the device and its modules, without feedback', async ({ store }) => {
        const others: C2dTarget[] = [OTHER, { deviceId: 'dev-10' }, { deviceId: 'Dev-1' }, { deviceId: 'dev-2', moduleId: 'mod-a' }];
        for (const target of [DEVICE, MODULE, { deviceId: 'dev-1', moduleId: 'mod-b' }, ...others]) {
          await enqueueAll(store, [newMessage(target, 'x', { ack: 'full' }), newMessage(target, 'y', { ack: 'full' })]);
        }
        await take(store, DEVICE, lockAt(T0));
        await store.dropDevice('dev-1');
        for (const target of [DEVICE, MODULE, { deviceId: 'dev-1', moduleId: 'mod-b' }]) {
          assert.equal(await store.count(target, T0), 0);
          assert.deepEqual(await store.lockNext(target, lockAt(T0)), { deadLettered: [] });
        }
        for (const target of others) assert.equal(await store.count(target, T0), 2, JSON.stringify(target));
        assert.equal(await store.pendingFeedbackCount(), 0);
        await store.dropDevice('nobody');
      });

      storeTest('count counts unexpired messages, locked or not', async ({ store }) => {
        await enqueueAll(store, [
          newMessage(DEVICE, 'a', { expiryTime: T0 + 10 }),
          newMessage(DEVICE, 'b', { expiryTime: T0 + 20 }),
          newMessage(DEVICE, 'c', { expiryTime: T0 + 30 }),
        ]);
        await take(store, DEVICE, lockAt(T0));
        assert.deepEqual(
          [await store.count(DEVICE, T0), await store.count(DEVICE, T0 + 10), await store.count(DEVICE, T0 + 29), await store.count(DEVICE, T0 + 30)],
          [3, 2, 1, 0],
        );
      });

      storeTest("a module's queue is separate from its device's and from other devices' modules", async ({ store }) => {
        const sameModuleName = { deviceId: 'dev-2', moduleId: 'mod-a' };
        const [d1, m1, d2, s1] = [newMessage(DEVICE, 'd1'), newMessage(MODULE, 'm1'), newMessage(DEVICE, 'd2'), newMessage(sameModuleName, 's1')];
        assert.deepEqual(await enqueueAll(store, [d1, m1, d2, s1]), [stored(d1, 1), stored(m1, 1), stored(d2, 2), stored(s1, 1)]);
        assert.equal('moduleId' in (await take(store, DEVICE, lockAt(T0))), false);
        const onModule = lockAt(T0);
        assert.deepEqual(await take(store, MODULE, onModule), held(m1, 1, 1, onModule));
        assert.deepEqual(await store.lockNext(MODULE, lockAt(T0)), { deadLettered: [] });
        assert.equal(await store.count(DEVICE, T0), 2);
        assert.equal(await store.count(sameModuleName, T0), 1);
        assert.equal(await store.purge(MODULE, T0), 1);
        assert.equal(await store.count(DEVICE, T0), 2);
      });

      storeTest('content, times and generation id round-trip exactly', async ({ store }) => {
        const body = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
        const message = richMessage(MODULE, body);
        const empty = newMessage(DEVICE, 'empty', { content: { body: Buffer.alloc(0), properties: {}, applicationProperties: {} } });
        assert.deepEqual(await enqueueAll(store, [message, empty]), [stored(message, 1), stored(empty, 1)]);
        const lock = lockAt(T0 + 1);
        const taken = await take(store, MODULE, lock);
        assert.deepEqual(taken, held(message, 1, 1, lock));
        assert.ok(Buffer.isBuffer(taken.content.body));
        assert.deepEqual(await store.settle(MODULE, lock.token, T0 + 2), settledAs(held(message, 1, 1, lock)));
        const emptyLock = lockAt(T0);
        assert.deepEqual(await take(store, DEVICE, emptyLock), held(empty, 1, 1, emptyLock));
      });

      storeTest('what the store returns is a copy: changing it or the input changes nothing stored', async ({ store }) => {
        const message = newMessage(DEVICE, 'a');
        const expected = stored(newMessage(DEVICE, 'a'), 1);
        const result = (await store.enqueue(message, DEPTH)) as C2dMessage;
        message.content.applicationProperties.changed = true;
        message.content.properties.messageId = 'changed';
        result.content.properties.correlationId = 'changed';
        result.content.body[0] = 0;
        const lock = lockAt(T0);
        const taken = await take(store, DEVICE, lock);
        assert.deepEqual(taken, { ...expected, deliveryCount: 1, lockToken: lock.token, lockedUntil: lock.until });
      });
    });

    describe('feedback', () => {
      /** Makes feedback records: one Rejected message per id (ack full), in order. */
      async function makeRecords(store: C2dStore, ids: readonly string[], now = T0): Promise<FeedbackRecord[]> {
        const records: FeedbackRecord[] = [];
        for (const id of ids) {
          const message = newMessage(DEVICE, id, { ack: 'full' });
          await enqueueAll(store, [message]);
          const lock = lockAt(now);
          await take(store, DEVICE, lock);
          await store.settle(DEVICE, lock.token, now, 'Rejected');
          records.push(record(message, 'Rejected', now));
        }
        return records;
      }

      storeTest('sealFeedback moves at most `max` of the oldest waiting records into a batch', async ({ store }) => {
        assert.equal(await store.pendingFeedbackCount(), 0);
        assert.equal(await store.sealFeedback('none-wait', 10, T0), 0);
        const records = await makeRecords(store, ['r1', 'r2', 'r3', 'r4', 'r5']);
        assert.equal(await store.pendingFeedbackCount(), 5);
        assert.equal(await store.sealFeedback('batch-1', 2, T0 + 1), 2);
        assert.equal(await store.pendingFeedbackCount(), 3);
        const more = await makeRecords(store, ['r6'], T0 + 2);
        assert.equal(await store.sealFeedback('batch-2', 100, T0 + 3), 4);
        assert.equal(await store.pendingFeedbackCount(), 0);
        assert.equal(await store.sealFeedback('batch-3', 100, T0 + 4), 0);
        const [first, second] = [lockAt(T0 + 5), lockAt(T0 + 5)];
        const firstBatch = await store.lockNextFeedback(first);
        assert.equal(firstBatch?.body, JSON.stringify(records.slice(0, 2)), 'the body is the records as compact JSON, in order');
        assert.deepEqual(withRecords(firstBatch), {
          batchId: 'batch-1',
          records: records.slice(0, 2),
          enqueuedTime: T0 + 1,
          deliveryCount: 1,
          lockToken: first.token,
          lockedUntil: first.until,
        });
        assert.deepEqual(withRecords(await store.lockNextFeedback(second)), {
          batchId: 'batch-2',
          records: [...records.slice(2), ...more],
          enqueuedTime: T0 + 3,
          deliveryCount: 1,
          lockToken: second.token,
          lockedUntil: second.until,
        });
        assert.equal(await store.lockNextFeedback(lockAt(T0 + 5)), undefined, 'no empty batch was made');
      });

      storeTest('batches are locked oldest first, settled and released by lock token', async ({ store }) => {
        const records = await makeRecords(store, ['r1', 'r2']);
        await store.sealFeedback('b1', 1, T0 + 1);
        await store.sealFeedback('b2', 1, T0 + 2);
        const b1 = { batchId: 'b1', records: [records[0]!], enqueuedTime: T0 + 1 };
        const b2 = { batchId: 'b2', records: [records[1]!], enqueuedTime: T0 + 2 };
        const first = lockAt(T0 + 10, { until: T0 + 100 });
        assert.deepEqual(withRecords(await store.lockNextFeedback(first)), { ...b1, deliveryCount: 1, lockToken: first.token, lockedUntil: first.until });
        const second = lockAt(T0 + 10, { until: T0 + 100 });
        assert.deepEqual(withRecords(await store.lockNextFeedback(second)), { ...b2, deliveryCount: 1, lockToken: second.token, lockedUntil: second.until });
        assert.equal(await store.lockNextFeedback(lockAt(T0 + 10)), undefined);
        // Wrong token, or the lock has ended: nothing happens.
        assert.equal(await store.settleFeedback(randomUUID(), T0 + 11), false);
        assert.equal(await store.releaseFeedback(randomUUID(), T0 + 11), undefined);
        assert.equal(await store.settleFeedback(first.token, T0 + 100), false);
        assert.equal(await store.releaseFeedback(first.token, T0 + 100), undefined);
        // Release: visible at once, deliveryCount kept.
        assert.deepEqual(withRecords(await store.releaseFeedback(second.token, T0 + 20)), { ...b2, deliveryCount: 1 });
        assert.equal(await store.releaseFeedback(second.token, T0 + 20), undefined);
        const third = lockAt(T0 + 21, { until: T0 + 200 });
        assert.deepEqual(withRecords(await store.lockNextFeedback(third)), { ...b2, deliveryCount: 2, lockToken: third.token, lockedUntil: third.until });
        // b1's lock ended at T0 + 100: it is the oldest visible batch again.
        const fourth = lockAt(T0 + 100, { until: T0 + 300 });
        assert.deepEqual(withRecords(await store.lockNextFeedback(fourth)), { ...b1, deliveryCount: 2, lockToken: fourth.token, lockedUntil: fourth.until });
        assert.equal(await store.settleFeedback(fourth.token, T0 + 101), true);
        assert.equal(await store.settleFeedback(fourth.token, T0 + 101), false);
        assert.equal(await store.settleFeedback(first.token, T0 + 101), false, 'an old token of b1 does not settle it');
        assert.equal(await store.settleFeedback(third.token, T0 + 199), true);
        assert.equal(await store.lockNextFeedback(lockAt(T0 + 1000)), undefined, 'both settled: gone');
      });

      storeTest('expireFeedback removes old and over-delivered batches that are not locked', async ({ store }) => {
        await makeRecords(store, ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
        await store.sealFeedback('old', 1, T0);
        await store.sealFeedback('at-cutoff', 1, T0 + 100);
        await store.sealFeedback('old-locked', 1, T0 + 50);
        await store.sealFeedback('delivered-twice', 1, T0 + 200);
        await store.sealFeedback('delivered-twice-locked', 1, T0 + 200);
        await store.sealFeedback('fresh', 1, T0 + 200);
        // Lock every batch once (until T0 + 310), then all but 'fresh' a second time, two of them past T0 + 320.
        for (let i = 0; i < 6; i++) assert.ok(await store.lockNextFeedback(lockAt(T0 + 300, { until: T0 + 310 })));
        const twice = lockAt(T0 + 310, { until: T0 + 320 });
        const oldLocked = lockAt(T0 + 310, { until: T0 + 1000 });
        const twiceLocked = lockAt(T0 + 310, { until: T0 + 1000 });
        const locks = [lockAt(T0 + 310, { until: T0 + 320 }), lockAt(T0 + 310, { until: T0 + 320 }), oldLocked, twice, twiceLocked];
        const names = [];
        for (const lock of locks) names.push((await store.lockNextFeedback(lock))?.batchId);
        assert.deepEqual(names, ['old', 'at-cutoff', 'old-locked', 'delivered-twice', 'delivered-twice-locked']);
        assert.equal(await store.expireFeedback(T0 + 100, 3, T0 + 320), 1, 'only old: the others are locked, new or delivered less');
        assert.equal(await store.expireFeedback(T0 + 100, 2, T0 + 320), 2, 'at-cutoff and delivered-twice');
        assert.equal(await store.expireFeedback(T0 + 100, 2, T0 + 320), 0);
        const left = [];
        for (const token of [oldLocked.token, twiceLocked.token]) left.push(await store.settleFeedback(token, T0 + 321));
        assert.deepEqual(left, [true, true], 'old-locked and delivered-twice-locked were kept: they were locked');
        assert.equal((await store.lockNextFeedback(lockAt(T0 + 400)))?.batchId, 'fresh');
        assert.equal(await store.lockNextFeedback(lockAt(T0 + 400)), undefined);
      });
    });

    describe('durability and concurrency', () => {
      storeTest('queues, locks, sequence numbers and feedback survive a reopen', async ({ store, reopen }, skip) => {
        if (!reopen) return skip('this backend does not persist');
        const rich = richMessage(DEVICE, Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)));
        const [a, b, d] = [newMessage(DEVICE, 'a', { ack: 'full' }), newMessage(DEVICE, 'b', { ack: 'full' }), newMessage(DEVICE, 'd')];
        const purged = newMessage(MODULE, 'purged', { ack: 'negative' });
        await enqueueAll(store, [a, b, rich, d, purged]);
        const onA = lockAt(T0, { until: T0 + 1000 });
        await take(store, DEVICE, onA);
        const onB = lockAt(T0);
        await take(store, DEVICE, onB);
        await store.settle(DEVICE, onB.token, T0 + 1, 'Success');
        const batchLock = lockAt(T0 + 2, { until: T0 + 1000 });
        await store.sealFeedback('batch-1', 10, T0 + 2);
        await store.lockNextFeedback(batchLock);
        await store.purge(MODULE, T0 + 3);

        const again = await reopen();
        assert.equal(await again.count(DEVICE, T0 + 4), 3);
        assert.equal(await again.count(MODULE, T0 + 4), 0);
        const onRich = lockAt(T0 + 4);
        assert.deepEqual(await take(again, DEVICE, onRich), held(rich, 3, 1, onRich), 'a is still locked');
        assert.deepEqual(await again.settle(DEVICE, onA.token, T0 + 5), settledAs(held(a, 1, 1, onA)));
        assert.equal(await again.pendingFeedbackCount(), 1);
        assert.equal(await again.lockNextFeedback(lockAt(T0 + 6)), undefined, 'the batch is still locked');
        // Released by its lock token: the batch, its records and its lock all survived.
        assert.deepEqual(withRecords(await again.releaseFeedback(batchLock.token, T0 + 6)), {
          batchId: 'batch-1',
          records: [record(b, 'Success', T0 + 1)],
          enqueuedTime: T0 + 2,
          deliveryCount: 1,
        });
        const relocked = lockAt(T0 + 6);
        assert.equal((await again.lockNextFeedback(relocked))?.batchId, 'batch-1');
        assert.equal(await again.settleFeedback(relocked.token, T0 + 6), true);
        assert.deepEqual(await feedback(again, T0 + 7), [record(purged, 'Purged', T0 + 3)]);
        const [e, m] = [newMessage(DEVICE, 'e'), newMessage(MODULE, 'm')];
        assert.deepEqual(await enqueueAll(again, [e, m]), [stored(e, 5), stored(m, 2)]);
        const onD = lockAt(T0 + 8);
        assert.deepEqual(await take(again, DEVICE, onD), held(d, 4, 1, onD));
      });

      storeTest('500 enqueues issued at once to 5 queues all succeed, in order per queue', async ({ store }) => {
        const targets: C2dTarget[] = [{ deviceId: 'c0' }, { deviceId: 'c1' }, { deviceId: 'c1', moduleId: 'm' }, { deviceId: 'c2' }, { deviceId: 'c3' }];
        const messages = Array.from({ length: 500 }, (_, i) => newMessage(targets[i % 5]!, `m${i}`));
        const results = await Promise.all(messages.map((m) => store.enqueue(m, 1000)));
        assert.deepEqual(results, messages.map((m, i) => stored(m, Math.floor(i / 5) + 1)));
        for (const [t, target] of targets.entries()) {
          assert.equal(await store.count(target, T0), 100);
          const locks = Array.from({ length: 101 }, () => lockAt(T0));
          const taken = await Promise.all(locks.map((lock) => store.lockNext(target, lock)));
          const expected = locks.map((lock, i) => (i < 100 ? { message: held(messages[i * 5 + t]!, i + 1, 1, lock), deadLettered: [] } : { deadLettered: [] }));
          assert.deepEqual(taken, expected);
        }
      });

      storeTest('enqueues issued at once against a small maxDepth admit exactly the first ones', async ({ store }) => {
        const messages = Array.from({ length: 10 }, (_, i) => newMessage(DEVICE, `m${i}`));
        const results = await Promise.all(messages.map((m) => store.enqueue(m, 4)));
        assert.deepEqual(results, messages.map((m, i) => (i < 4 ? stored(m, i + 1) : QUEUE_FULL)));
        assert.equal(await store.count(DEVICE, T0), 4);
      });
    });
  });
}

/** A message with every property set and application properties of every value type. */
function richMessage(target: C2dTarget, body: Buffer): NewC2dMessage {
  return newMessage(target, 'rich', {
    ack: 'full',
    generationId: '638712345678901234',
    enqueuedTime: T0 + 123,
    expiryTime: Date.parse('2099-12-31T23:59:59.999Z'),
    content: {
      body,
      properties: {
        messageId: 'rich',
        correlationId: 'corr-ü-€',
        userId: 'user@example',
        to: '/devices/dev-1/modules/mod-a/messages/deviceBound',
        contentType: 'application/json; charset=utf-8',
        contentEncoding: 'utf-8',
        absoluteExpiryTime: Date.parse('2099-12-31T23:59:59.999Z'),
        creationTime: T0 - 1,
      },
      applicationProperties: {
        'iothub-ack': 'full',
        text: 'hello "world" \u0000 \n ✓',
        empty: '',
        integer: 42,
        negative: -7,
        fraction: 3.141592653589793,
        large: Number.MAX_SAFE_INTEGER,
        yes: true,
        no: false,
        nothing: null,
        'key with spaces & ünïcode': 'value',
      },
    },
  });
}
