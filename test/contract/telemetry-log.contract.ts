import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { LogEvent, RetentionPolicy, StartPosition, TelemetryLog } from '../../src/ports/telemetry-log.js';

export interface TelemetryLogOptions {
  partitionCount: number;
  retention?: RetentionPolicy;
  now?: () => number;
}

export interface TelemetryLogInstance {
  log: TelemetryLog;
  /** Closes the log and opens the same data again, with the options changed as given; only for backends that persist. */
  reopen?(changes?: Partial<TelemetryLogOptions>): Promise<TelemetryLog>;
  destroy(): Promise<void>;
}

export interface TelemetryLogHarness {
  name: string;
  create(options: TelemetryLogOptions): Promise<TelemetryLogInstance>;
  /** Why the backend cannot run the tests now (they are then skipped with that reason); it may throw to fail them instead. */
  unavailable?(): Promise<string | undefined>;
}

/** A clock the test sets by hand. */
function manualClock(start: number): { now: () => number; set(time: number): void } {
  let time = start;
  return { now: () => time, set: (t) => void (time = t) };
}

function text(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** What a reader sees of an event, without the payload's Buffer identity. */
function summary(e: LogEvent) {
  return { partition: e.partition, sequenceNumber: e.sequenceNumber, offset: e.offset, enqueuedTime: e.enqueuedTime, partitionKey: e.partitionKey, payload: e.payload.toString('hex') };
}

async function appendAll(log: TelemetryLog, partition: number, payloads: string[]): Promise<LogEvent[]> {
  const events: LogEvent[] = [];
  for (const p of payloads) events.push(await log.append({ partition, payload: text(p) }));
  return events;
}

async function readAll(log: TelemetryLog, partition: number): Promise<LogEvent[]> {
  return log.read(partition, 0, 1_000_000);
}

export function telemetryLogContract(harness: TelemetryLogHarness): void {
  /** A test with its own fresh log, destroyed afterwards whatever happens. */
  function logTest(
    name: string,
    options: TelemetryLogOptions,
    body: (instance: TelemetryLogInstance, skip: (why: string) => void) => Promise<void>,
  ) {
    test(name, async (t) => {
      const why = await harness.unavailable?.();
      if (why !== undefined) return t.skip(why);
      const instance = await harness.create(options);
      try {
        await body(instance, (why) => t.skip(why));
      } finally {
        await instance.destroy();
      }
    });
  }

  describe(`TelemetryLog contract: ${harness.name}`, () => {
    describe('append', () => {
      logTest('sequence numbers start at 0 in each partition and count up by one, independently', { partitionCount: 3, now: () => 5000 }, async ({ log }) => {
        assert.equal(log.partitionCount, 3);
        const a0 = await log.append({ partition: 0, payload: text('a0') });
        const b0 = await log.append({ partition: 2, payload: text('b0') });
        const a1 = await log.append({ partition: 0, payload: text('a1') });
        const a2 = await log.append({ partition: 0, payload: text('a2') });
        const b1 = await log.append({ partition: 2, payload: text('b1') });
        assert.deepEqual([a0, a1, a2].map((e) => e.sequenceNumber), [0, 1, 2]);
        assert.deepEqual([b0, b1].map((e) => e.sequenceNumber), [0, 1]);
        assert.deepEqual(summary(a1), { partition: 0, sequenceNumber: 1, offset: a1.offset, enqueuedTime: 5000, partitionKey: undefined, payload: text('a1').toString('hex') });
        assert.equal(b1.partition, 2);
        for (const e of [a0, a1, a2, b0, b1]) assert.match(e.offset, /^\d+$/);
        assert.ok(BigInt(a0.offset) < BigInt(a1.offset) && BigInt(a1.offset) < BigInt(a2.offset), 'offsets increase with the sequence number');
        assert.deepEqual(await log.read(1, 0, 10), []);
        assert.deepEqual((await readAll(log, 0)).map(summary), [a0, a1, a2].map(summary));
      });

      logTest('many concurrent appends: per partition, no gaps, and sequence numbers follow the append order', { partitionCount: 4 }, async ({ log }) => {
        const appended: Array<{ partition: number; payload: string }> = [];
        const pending: Array<Promise<LogEvent>> = [];
        // Appends from 50 interleaved callers, some waiting on their previous append and some not.
        const callers = Array.from({ length: 50 }, async (_, caller) => {
          for (let i = 0; i < 20; i++) {
            const entry = { partition: (caller + i) % 4, payload: `c${caller}-${i}` };
            appended.push(entry);
            const p = log.append({ partition: entry.partition, payload: text(entry.payload) });
            pending.push(p);
            if (caller % 2 === 0) await p;
          }
        });
        await Promise.all(callers);
        const results = await Promise.all(pending);
        for (let partition = 0; partition < 4; partition++) {
          const inAppendOrder = appended.flatMap((a, i) => (a.partition === partition ? [{ payload: a.payload, event: results[i]! }] : []));
          assert.deepEqual(inAppendOrder.map((x) => x.event.sequenceNumber), inAppendOrder.map((_, i) => i), `partition ${partition}`);
          const stored = await readAll(log, partition);
          assert.deepEqual(stored.map((e) => [e.sequenceNumber, e.payload.toString()]), inAppendOrder.map((x, i) => [i, x.payload]));
        }
      });

      logTest('append promises resolve in append order within a partition', { partitionCount: 2 }, async ({ log }) => {
        const resolved: string[] = [];
        const all = Array.from({ length: 200 }, (_, i) => {
          const partition = i % 3 === 0 ? 1 : 0;
          return log.append({ partition, payload: text(String(i)) }).then((e) => resolved.push(`${partition}:${e.payload.toString()}`));
        });
        await Promise.all(all);
        for (const partition of [0, 1]) {
          const order = resolved.filter((r) => r.startsWith(`${partition}:`)).map((r) => Number(r.slice(2)));
          assert.deepEqual(order, [...order].sort((a, b) => a - b), `partition ${partition} resolved out of order`);
          assert.equal(order.length, partition === 1 ? 67 : 133);
        }
      });

      logTest('appendTo, where the adapter has it, tells what append resolves, in append order; a refusal comes after the call', { partitionCount: 2 }, async ({ log }, skip) => {
        const appendTo = log.appendTo?.bind(log);
        if (appendTo === undefined) return skip('this backend has no appendTo (callers use append)');
        const told: LogEvent[] = [];
        await new Promise<void>((resolve, reject) => {
          for (let i = 0; i < 50; i++) {
            appendTo({ partition: i % 2, payload: text(String(i)) }, {
              committed: (event) => told.push(event) === 50 && resolve(),
              failed: reject,
            });
          }
        });
        for (const partition of [0, 1]) {
          const mine = told.filter((e) => e.partition === partition);
          assert.deepEqual(mine.map((e) => e.sequenceNumber), Array.from({ length: 25 }, (_, i) => i));
          assert.deepEqual(mine.map(summary), (await readAll(log, partition)).map(summary));
        }
        let refusedDuringCall = false;
        let returned = false;
        const refusal = await new Promise<unknown>((resolve) => {
          appendTo({ partition: 2, payload: text('x') }, {
            committed: () => resolve(new Error('an append to partition 2 was committed')),
            failed: (err) => {
              refusedDuringCall = !returned;
              resolve(err);
            },
          });
          returned = true;
        });
        assert.ok(refusal instanceof RangeError, String(refusal));
        assert.equal(refusedDuringCall, false, 'the receiver was told before appendTo returned');
        assert.equal((await log.append({ partition: 1, payload: text('next') })).sequenceNumber, 25);
      });

      logTest('unknown partitions are a RangeError everywhere, and a refused append uses no sequence number', { partitionCount: 2 }, async ({ log }) => {
        for (const partition of [-1, 2, 1.5, Number.NaN]) {
          await assert.rejects(log.append({ partition, payload: text('x') }), RangeError, `append to ${partition}`);
          await assert.rejects(log.read(partition, 0, 10), RangeError, `read ${partition}`);
          await assert.rejects(log.resolveStart(partition, { kind: 'earliest' }), RangeError, `resolveStart ${partition}`);
          await assert.rejects(log.partitionInfo(partition), RangeError, `partitionInfo ${partition}`);
        }
        assert.equal((await log.append({ partition: 1, payload: text('first') })).sequenceNumber, 0);
      });

      logTest('binary payloads round-trip byte for byte: zero bytes, empty, 300 KB', { partitionCount: 1 }, async ({ log }) => {
        const everyByte = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
        const zeros = Buffer.alloc(64);
        const empty = Buffer.alloc(0);
        const large = randomBytes(300 * 1024);
        const payloads = [everyByte, zeros, empty, large];
        const appended = await Promise.all(payloads.map((payload) => log.append({ partition: 0, payload })));
        const stored = await readAll(log, 0);
        assert.equal(stored.length, payloads.length);
        payloads.forEach((payload, i) => {
          assert.ok(Buffer.isBuffer(stored[i]!.payload), 'payload is a Buffer');
          assert.ok(stored[i]!.payload.equals(payload), `stored payload ${i}`);
          assert.ok(appended[i]!.payload.equals(payload), `returned payload ${i}`);
        });
      });

      logTest('partitionKey round-trips, the empty string included; absent stays absent', { partitionCount: 1 }, async ({ log }) => {
        const keyed = await log.append({ partition: 0, payload: text('a'), partitionKey: 'device-7 ✓' });
        const empty = await log.append({ partition: 0, payload: text('b'), partitionKey: '' });
        const none = await log.append({ partition: 0, payload: text('c') });
        assert.deepEqual([keyed, empty, none].map((e) => e.partitionKey), ['device-7 ✓', '', undefined]);
        assert.deepEqual((await readAll(log, 0)).map((e) => e.partitionKey), ['device-7 ✓', '', undefined]);
      });

      const clock = manualClock(1000);
      logTest('enqueuedTime comes from the clock and never goes back in a partition', { partitionCount: 2, now: clock.now }, async ({ log }) => {
        clock.set(1000);
        const times: number[] = [];
        for (const [partition, time] of [[0, 1000], [0, 1500], [0, 1200], [1, 1100], [0, 900], [0, 2000]] as const) {
          clock.set(time);
          times.push((await log.append({ partition, payload: text(String(time)) })).enqueuedTime);
        }
        // Partition 1 has its own history: it is not held at partition 0's 1500.
        assert.deepEqual(times, [1000, 1500, 1500, 1100, 1500, 2000]);
        assert.deepEqual((await readAll(log, 0)).map((e) => e.enqueuedTime), [1000, 1500, 1500, 1500, 2000]);
      });
    });

    describe('read', () => {
      logTest('pages through a partition and returns nothing at or beyond the end', { partitionCount: 2 }, async ({ log }) => {
        await appendAll(log, 1, Array.from({ length: 10 }, (_, i) => `e${i}`));
        await appendAll(log, 0, ['other']);
        const page = async (from: number, max: number) => (await log.read(1, from, max)).map((e) => e.payload.toString());
        assert.deepEqual(await page(0, 4), ['e0', 'e1', 'e2', 'e3']);
        assert.deepEqual(await page(4, 4), ['e4', 'e5', 'e6', 'e7']);
        assert.deepEqual(await page(8, 4), ['e8', 'e9']);
        assert.deepEqual(await page(10, 4), []);
        assert.deepEqual(await page(1000, 4), []);
        assert.deepEqual(await page(3, 1), ['e3']);
        assert.deepEqual(await page(3, 0), []);
      });
    });

    describe('resolveStart', () => {
      const cases = (offsetOf: (seq: number) => string): Array<[StartPosition, number]> => [
        [{ kind: 'earliest' }, 0],
        [{ kind: 'latest' }, 5],
        [{ kind: 'sequenceNumber', value: 2, inclusive: true }, 2],
        [{ kind: 'sequenceNumber', value: 2, inclusive: false }, 3],
        [{ kind: 'sequenceNumber', value: 4, inclusive: false }, 5],
        [{ kind: 'sequenceNumber', value: 99, inclusive: true }, 5],
        [{ kind: 'sequenceNumber', value: -1, inclusive: true }, 0],
        [{ kind: 'sequenceNumber', value: -1, inclusive: false }, 0],
        [{ kind: 'offset', value: offsetOf(2), inclusive: true }, 2],
        [{ kind: 'offset', value: offsetOf(2), inclusive: false }, 3],
        [{ kind: 'offset', value: offsetOf(4), inclusive: false }, 5],
        [{ kind: 'offset', value: '-1', inclusive: true }, 0],
        [{ kind: 'offset', value: '-1', inclusive: false }, 0],
        [{ kind: 'enqueuedTime', value: 200, inclusive: true }, 1],
        [{ kind: 'enqueuedTime', value: 200, inclusive: false }, 3],
        [{ kind: 'enqueuedTime', value: 150, inclusive: true }, 1],
        [{ kind: 'enqueuedTime', value: 150, inclusive: false }, 1],
        [{ kind: 'enqueuedTime', value: 50, inclusive: false }, 0],
        [{ kind: 'enqueuedTime', value: 400, inclusive: true }, 4],
        [{ kind: 'enqueuedTime', value: 400, inclusive: false }, 5],
        [{ kind: 'enqueuedTime', value: 10_000, inclusive: true }, 5],
      ];

      logTest('every kind of start position on an empty partition gives 0', { partitionCount: 2 }, async ({ log }) => {
        await appendAll(log, 0, ['elsewhere']);
        // Only '-1' is an offset this partition handed out: any other would be made up.
        for (const [position] of cases(() => '-1')) {
          assert.equal(await log.resolveStart(1, position), 0, JSON.stringify(position));
        }
      });

      const clock = manualClock(100);
      logTest('every kind of start position on a partition with events', { partitionCount: 2, now: clock.now }, async ({ log }) => {
        const offsets: string[] = [];
        for (const time of [100, 200, 200, 300, 400]) {
          clock.set(time);
          offsets.push((await log.append({ partition: 1, payload: text(String(time)) })).offset);
          await log.append({ partition: 0, payload: text('noise') });
        }
        await log.append({ partition: 0, payload: text('more noise') });
        for (const [position, expected] of cases((seq) => offsets[seq]!)) {
          assert.equal(await log.resolveStart(1, position), expected, JSON.stringify(position));
        }
      });

      const later = manualClock(0);
      logTest('positions before the retained events resolve to the first retained one', { partitionCount: 1, now: later.now, retention: { maxAgeMs: 1000, maxBytesPerPartition: 1e9 } }, async ({ log }) => {
        for (const time of [0, 0, 5000, 6000]) {
          later.set(time);
          await log.append({ partition: 0, payload: text(String(time)) });
        }
        assert.equal(await log.enforceRetention(5500), 2);
        assert.equal(await log.resolveStart(0, { kind: 'earliest' }), 2);
        assert.equal(await log.resolveStart(0, { kind: 'sequenceNumber', value: 0, inclusive: true }), 2);
        assert.equal(await log.resolveStart(0, { kind: 'offset', value: '-1', inclusive: false }), 2);
        assert.equal(await log.resolveStart(0, { kind: 'enqueuedTime', value: 0, inclusive: true }), 2);
        assert.equal(await log.resolveStart(0, { kind: 'enqueuedTime', value: 5000, inclusive: false }), 3);
        assert.equal(await log.resolveStart(0, { kind: 'latest' }), 4);
      });

      logTest('malformed offsets and sequence numbers are a RangeError', { partitionCount: 1 }, async ({ log }) => {
        await appendAll(log, 0, ['a', 'b']);
        for (const value of ['', 'abc', '1.5', '-2', '1e1', ' 1', '0x1']) {
          await assert.rejects(log.resolveStart(0, { kind: 'offset', value, inclusive: true }), RangeError, `offset "${value}"`);
        }
        for (const value of [-2, 1.5, Number.NaN]) {
          await assert.rejects(log.resolveStart(0, { kind: 'sequenceNumber', value, inclusive: true }), RangeError, `sequence number ${value}`);
        }
      });
    });

    describe('partitionInfo', () => {
      logTest('an empty partition', { partitionCount: 2 }, async ({ log }) => {
        await appendAll(log, 0, ['elsewhere']);
        assert.deepEqual(await log.partitionInfo(1), {
          partition: 1,
          beginningSequenceNumber: 0,
          lastEnqueuedSequenceNumber: -1,
          lastEnqueuedOffset: '-1',
          lastEnqueuedTime: 0,
          isEmpty: true,
        });
      });

      const clock = manualClock(7000);
      logTest('a partition with events', { partitionCount: 2, now: clock.now }, async ({ log }) => {
        await appendAll(log, 1, ['a', 'b']);
        clock.set(8000);
        const last = await log.append({ partition: 1, payload: text('c') });
        assert.deepEqual(await log.partitionInfo(1), {
          partition: 1,
          beginningSequenceNumber: 0,
          lastEnqueuedSequenceNumber: 2,
          lastEnqueuedOffset: last.offset,
          lastEnqueuedTime: 8000,
          isEmpty: false,
        });
      });
    });

    describe('retention', () => {
      const clock = manualClock(0);
      logTest('by age: events older than maxAgeMs go, in every partition', { partitionCount: 2, now: clock.now, retention: { maxAgeMs: 1500, maxBytesPerPartition: 1e9 } }, async ({ log }) => {
        for (const time of [1000, 2000, 3000]) {
          clock.set(time);
          await log.append({ partition: 0, payload: text(`p0@${time}`) });
          await log.append({ partition: 1, payload: text(`p1@${time}`) });
        }
        assert.equal(await log.enforceRetention(2500), 0, '1500 ms old is not older than 1500 ms');
        assert.equal(await log.enforceRetention(2501), 2);
        assert.deepEqual((await readAll(log, 0)).map((e) => e.payload.toString()), ['p0@2000', 'p0@3000']);
        assert.equal(await log.enforceRetention(3501), 2);
        assert.deepEqual((await readAll(log, 0)).map((e) => [e.sequenceNumber, e.payload.toString()]), [[2, 'p0@3000']]);
        assert.deepEqual((await log.read(1, 0, 10)).map((e) => e.sequenceNumber), [2]);
        assert.equal((await log.partitionInfo(0)).beginningSequenceNumber, 2);
        assert.equal(await log.enforceRetention(3501), 0);
      });

      logTest('by size: the oldest go while a partition holds more payload bytes than allowed', { partitionCount: 2, retention: { maxAgeMs: 1e12, maxBytesPerPartition: 1000 } }, async ({ log }) => {
        const append = (partition: number, n: number) => appendAll(log, partition, Array.from({ length: n }, (_, i) => `${i}`.padEnd(400, '.')));
        await append(0, 4);
        await append(1, 2);
        assert.equal(await log.enforceRetention(Date.now()), 2);
        assert.deepEqual((await readAll(log, 0)).map((e) => e.sequenceNumber), [2, 3]);
        assert.equal((await readAll(log, 1)).length, 2, '800 bytes are within the limit');
        // The byte count went down with the removed events: two more make 1600 bytes, and two go again.
        await append(0, 2);
        assert.equal(await log.enforceRetention(Date.now()), 2);
        assert.deepEqual((await readAll(log, 0)).map((e) => e.sequenceNumber), [4, 5]);
        await appendAll(log, 0, ['x'.repeat(1001)]);
        assert.equal(await log.enforceRetention(Date.now()), 3, 'a single event above the limit goes too');
        assert.equal((await log.partitionInfo(0)).isEmpty, true);
      });

      const emptied = manualClock(1000);
      logTest('after retention removed everything: numbering, times and partitionInfo carry on', { partitionCount: 1, now: emptied.now, retention: { maxAgeMs: 10, maxBytesPerPartition: 1e9 } }, async ({ log }) => {
        emptied.set(1000);
        await appendAll(log, 0, ['a', 'b', 'c']);
        assert.equal(await log.enforceRetention(5000), 3);
        assert.deepEqual(await readAll(log, 0), []);
        assert.deepEqual(await log.partitionInfo(0), {
          partition: 0,
          beginningSequenceNumber: 3,
          lastEnqueuedSequenceNumber: 2,
          lastEnqueuedOffset: '2',
          lastEnqueuedTime: 1000,
          isEmpty: true,
        });
        assert.equal(await log.resolveStart(0, { kind: 'earliest' }), 3);
        assert.equal(await log.resolveStart(0, { kind: 'enqueuedTime', value: 0, inclusive: true }), 3);
        emptied.set(500);
        const next = await log.append({ partition: 0, payload: text('d') });
        assert.deepEqual([next.sequenceNumber, next.enqueuedTime], [3, 1000]);
        assert.deepEqual((await readAll(log, 0)).map((e) => e.sequenceNumber), [3]);
      });
    });

    describe('onAppended', () => {
      logTest('tells listeners once the events are readable, until they unsubscribe', { partitionCount: 2 }, async ({ log }) => {
        const seen: Array<{ partition: number; last: number; readable: Promise<number[]> }> = [];
        const unsubscribe = log.onAppended((partition, last) => {
          seen.push({ partition, last, readable: log.read(partition, last, 1).then((es) => es.map((e) => e.sequenceNumber)) });
        });
        const events = await Promise.all([0, 1, 0, 0, 1].map((partition, i) => log.append({ partition, payload: text(String(i)) })));
        for (const { partition, last, readable } of seen) assert.deepEqual(await readable, [last], `partition ${partition} event ${last}`);
        for (const event of events) {
          assert.ok(seen.some((s) => s.partition === event.partition && s.last >= event.sequenceNumber), `no notice covers ${event.partition}/${event.sequenceNumber}`);
        }
        const count = seen.length;
        unsubscribe();
        await log.append({ partition: 0, payload: text('unheard') });
        assert.equal(seen.length, count);
      });
    });

    describe('durability', () => {
      const clock = manualClock(1000);
      logTest('events, numbering, times and byte counts survive reopen', { partitionCount: 2, now: clock.now, retention: { maxAgeMs: 1e12, maxBytesPerPartition: 1000 } }, async (instance, skip) => {
        if (instance.reopen === undefined) return skip('the backend does not persist (no reopen)');
        clock.set(1000);
        const before = [
          await instance.log.append({ partition: 0, payload: randomBytes(400), partitionKey: 'k' }),
          await instance.log.append({ partition: 0, payload: randomBytes(400) }),
        ];
        clock.set(2000);
        before.push(await instance.log.append({ partition: 1, payload: Buffer.alloc(0) }));
        const log = await instance.reopen();
        assert.deepEqual([...(await readAll(log, 0)), ...(await readAll(log, 1))].map(summary), before.map(summary));
        assert.deepEqual(await log.partitionInfo(1), { partition: 1, beginningSequenceNumber: 0, lastEnqueuedSequenceNumber: 0, lastEnqueuedOffset: before[2]!.offset, lastEnqueuedTime: 2000, isEmpty: false });
        clock.set(1500);
        const next = await log.append({ partition: 1, payload: text('after') });
        assert.deepEqual([next.sequenceNumber, next.enqueuedTime], [1, 2000], 'numbering and time carry on');
        // 800 stored bytes + 400 more exceed the 1000 allowed: exactly the oldest goes.
        await log.append({ partition: 0, payload: randomBytes(400) });
        assert.equal(await log.enforceRetention(3000), 1);
        assert.deepEqual((await readAll(log, 0)).map((e) => e.sequenceNumber), [1, 2]);
      });

      const emptied = manualClock(1000);
      logTest('numbering carries on after retention removed everything and the log was reopened', { partitionCount: 1, now: emptied.now, retention: { maxAgeMs: 10, maxBytesPerPartition: 1e9 } }, async (instance, skip) => {
        if (instance.reopen === undefined) return skip('the backend does not persist (no reopen)');
        emptied.set(1000);
        await appendAll(instance.log, 0, ['a', 'b']);
        assert.equal(await instance.log.enforceRetention(9000), 2);
        const log = await instance.reopen();
        assert.deepEqual(await log.partitionInfo(0), { partition: 0, beginningSequenceNumber: 2, lastEnqueuedSequenceNumber: 1, lastEnqueuedOffset: '1', lastEnqueuedTime: 1000, isEmpty: true });
        emptied.set(10);
        const next = await log.append({ partition: 0, payload: text('c') });
        assert.deepEqual([next.sequenceNumber, next.enqueuedTime], [2, 1000]);
      });

      logTest('appends still pending when close() is called are committed', { partitionCount: 1 }, async (instance, skip) => {
        if (instance.reopen === undefined) return skip('the backend does not persist (no reopen)');
        const pending = Array.from({ length: 20 }, (_, i) => instance.log.append({ partition: 0, payload: text(String(i)) }));
        const log = await instance.reopen();
        assert.deepEqual((await Promise.all(pending)).map((e) => e.sequenceNumber), Array.from({ length: 20 }, (_, i) => i));
        assert.equal((await readAll(log, 0)).length, 20);
      });

      logTest('a different partition count is refused on reopen, naming both counts', { partitionCount: 4 }, async (instance, skip) => {
        if (instance.reopen === undefined) return skip('the backend does not persist (no reopen)');
        await instance.log.append({ partition: 3, payload: text('x') });
        await assert.rejects(instance.reopen({ partitionCount: 8 }), (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.match(err.message, /\b4\b/);
          assert.match(err.message, /\b8\b/);
          return true;
        });
        const log = await instance.reopen({ partitionCount: 4 });
        assert.equal((await readAll(log, 3)).length, 1);
      });
    });
  });
}
