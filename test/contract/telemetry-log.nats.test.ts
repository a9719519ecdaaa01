import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { nanos, type NatsConnection } from 'nats';
import type { LogEvent } from '../../src/ports/telemetry-log.js';
import { JetStreamTelemetryLog, type JetStreamTelemetryLogOptions } from '../../src/storage/nats/jetstream-telemetry-log.js';
import { deleteTelemetryStreams } from '../../src/storage/nats/telemetry-streams.js';
import { connectNats, natsSkipReason } from '../support/nats.js';
import { telemetryLogContract, type TelemetryLogOptions } from './telemetry-log.contract.js';

const nats = await connectNats();
after(() => nats.nc?.close());

/** Streams of every test apart, and apart from any hub's. */
function testPrefix(): string {
  return `lzt-${randomBytes(4).toString('hex')}`;
}

async function deleteStreams(nc: NatsConnection, prefix: string): Promise<string[]> {
  return deleteTelemetryStreams(await nc.jetstreamManager(), prefix);
}

telemetryLogContract({
  name: 'nats',
  unavailable: async () => natsSkipReason(nats),
  async create(options) {
    const nc = nats.nc!;
    const prefix = testPrefix();
    // The contract drives age retention with a hand-set clock through enforceRetention(now). The streams' max_age
    // would also expire the same events by the server's real clock while a test runs (at 100 ms at the least,
    // JetStream's minimum, where the contract asks for 10 ms), so it is left off here and tested below.
    const open = (o: TelemetryLogOptions) => JetStreamTelemetryLog.open(nc, { ...o, prefix, serverMaxAge: false });
    let log = await open(options);
    return {
      log,
      async reopen(changes = {}) {
        await log.close();
        log = await open({ ...options, ...changes });
        return log;
      },
      async destroy() {
        await log.close();
        await deleteStreams(nc, prefix);
      },
    };
  },
});

describe('JetStreamTelemetryLog', () => {
  /** A log on fresh streams, deleted afterwards; undefined when the test was skipped. */
  async function withLog(t: TestContext, options: Omit<JetStreamTelemetryLogOptions, 'prefix'>, body: (log: JetStreamTelemetryLog, nc: NatsConnection, prefix: string) => Promise<void>): Promise<void> {
    const why = natsSkipReason(nats);
    if (why !== undefined) return t.skip(why);
    const nc = nats.nc!;
    const prefix = testPrefix();
    const log = await JetStreamTelemetryLog.open(nc, { ...options, prefix });
    try {
      await body(log, nc, prefix);
    } finally {
      await log.close();
      await deleteStreams(nc, prefix);
    }
  }

  test('one stream per partition, the retention limits as its max_age and max_bytes', (t) =>
    withLog(t, { partitionCount: 3, retention: { maxAgeMs: 60_000, maxBytesPerPartition: 5000 } }, async (log, nc, prefix) => {
      const jsm = await nc.jetstreamManager();
      for (let p = 0; p < 3; p++) {
        const { config } = await jsm.streams.info(`${prefix}-p${p}`);
        assert.deepEqual(
          [config.subjects, config.max_age, config.max_bytes, config.discard, config.storage, config.allow_direct],
          [[`${prefix}.p.${p}`], nanos(60_000), 5000, 'old', 'file', true],
        );
      }
      await log.close();
      // Reopening applies changed limits; JetStream refuses a max_age under 100 ms, so shorter ones are raised to it.
      const reopened = await JetStreamTelemetryLog.open(nc, { partitionCount: 3, prefix, retention: { maxAgeMs: 10, maxBytesPerPartition: Number.MAX_SAFE_INTEGER } });
      await reopened.close();
      assert.deepEqual(
        [(await jsm.streams.info(`${prefix}-p1`)).config.max_age, (await jsm.streams.info(`${prefix}-p1`)).config.max_bytes],
        [nanos(100), -1],
      );
      await (await JetStreamTelemetryLog.open(nc, { partitionCount: 3, prefix, serverMaxAge: false })).close();
      assert.equal((await jsm.streams.info(`${prefix}-p2`)).config.max_age, 0);
    }));

  test('the server expires events by max_age between passes; numbering carries on and the pass counts them', (t) =>
    withLog(t, { partitionCount: 1, retention: { maxAgeMs: 100, maxBytesPerPartition: 1e9 } }, async (log) => {
      await Promise.all(['a', 'b'].map((s) => log.append({ partition: 0, payload: Buffer.from(s) })));
      const deadline = Date.now() + 5000;
      while (!(await log.partitionInfo(0)).isEmpty) {
        assert.ok(Date.now() < deadline, 'the server did not expire the events within 5 s');
        await sleep(50);
      }
      assert.deepEqual(await log.read(0, 0, 10), []);
      assert.equal(await log.enforceRetention(Date.now()), 2);
      assert.equal((await log.append({ partition: 0, payload: Buffer.from('c') })).sequenceNumber, 2);
    }));

  test('logs on two connections append to the same partitions: distinct, gapless numbers, each reads the other', (t) =>
    withLog(t, { partitionCount: 2 }, async (first, nc, prefix) => {
      const otherConnection = await connectNats();
      const second = await JetStreamTelemetryLog.open(otherConnection.nc!, { partitionCount: 2, prefix });
      try {
        const appends: Array<Promise<LogEvent>> = [];
        for (let i = 0; i < 400; i++) {
          appends.push((i % 2 === 0 ? first : second).append({ partition: i % 3 === 0 ? 1 : 0, payload: Buffer.from(`e${i}`) }));
        }
        const events = await Promise.all(appends);
        for (const partition of [0, 1]) {
          const numbers = events.filter((e) => e.partition === partition).map((e) => e.sequenceNumber);
          assert.deepEqual([...numbers].sort((a, b) => a - b), numbers.map((_, i) => i), `partition ${partition}`);
          const stored = (log: JetStreamTelemetryLog) => log.read(partition, 0, 1000).then((es) => es.map((e) => `${e.sequenceNumber}:${e.payload.toString()}`));
          const expected = events.filter((e) => e.partition === partition).sort((a, b) => a.sequenceNumber - b.sequenceNumber).map((e) => `${e.sequenceNumber}:${e.payload.toString()}`);
          assert.deepEqual(await stored(first), expected);
          assert.deepEqual(await stored(second), expected);
          assert.equal((await second.partitionInfo(partition)).lastEnqueuedSequenceNumber, numbers.length - 1);
        }
        assert.ok(nc !== otherConnection.nc);
      } finally {
        await second.close();
        await otherConnection.nc?.close();
      }
    }));

  test('a listener hears appends another process made (another hub node), with their sequence numbers', (t) =>
    withLog(t, { partitionCount: 2 }, async (first, _nc, prefix) => {
      const otherConnection = await connectNats();
      const second = await JetStreamTelemetryLog.open(otherConnection.nc!, { partitionCount: 2, prefix });
      const heard: string[] = [];
      const stop = first.onAppended((partition, sequenceNumber) => heard.push(`${partition}:${sequenceNumber}`));
      try {
        await new Promise((resolve) => setTimeout(resolve, 300)); // the watch's consumers start
        await second.append({ partition: 1, payload: Buffer.from('from the other node') });
        await second.append({ partition: 0, payload: Buffer.from('and another') });
        const deadline = Date.now() + 3000;
        while (heard.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.deepEqual(heard.sort(), ['0:0', '1:0']);
      } finally {
        stop();
        await second.close();
        await otherConnection.nc?.close();
      }
    }));

  test('reading more than one request window returns every event in order', (t) =>
    withLog(t, { partitionCount: 1 }, async (log) => {
      await Promise.all(Array.from({ length: 700 }, (_, i) => log.append({ partition: 0, payload: Buffer.from(String(i)) })));
      const events = await log.read(0, 5, 600);
      assert.deepEqual(events.map((e) => e.sequenceNumber), Array.from({ length: 600 }, (_, i) => i + 5));
      assert.deepEqual(events.map((e) => e.payload.toString()), Array.from({ length: 600 }, (_, i) => String(i + 5)));
    }));

  test('deleting the streams removes every stream of the log and none of a look-alike prefix', (t) =>
    withLog(t, { partitionCount: 2 }, async (_log, nc, prefix) => {
      const neighbour = await JetStreamTelemetryLog.open(nc, { partitionCount: 1, prefix: `${prefix}-p1` });
      await neighbour.close();
      try {
        assert.deepEqual((await deleteStreams(nc, prefix)).sort(), [`${prefix}-meta`, `${prefix}-p0`, `${prefix}-p1`]);
        assert.deepEqual(await deleteStreams(nc, prefix), []);
      } finally {
        assert.deepEqual((await deleteStreams(nc, `${prefix}-p1`)).sort(), [`${prefix}-p1-meta`, `${prefix}-p1-p0`]);
      }
    }));

  test('append and read fail, rather than hang, when the partition stream is gone', (t) =>
    withLog(t, { partitionCount: 2, timeoutMs: 300 }, async (log, nc, prefix) => {
      await log.append({ partition: 0, payload: Buffer.from('x') });
      await (await nc.jetstreamManager()).streams.delete(`${prefix}-p0`);
      await assert.rejects(log.append({ partition: 0, payload: Buffer.from('y') }));
      await assert.rejects(log.read(0, 0, 10), /answered 0 of 2 gets within 300 ms/);
      assert.equal((await log.append({ partition: 1, payload: Buffer.from('z') })).sequenceNumber, 0);
    }));

  test('an unreachable server skips the tests, or fails them when CI=true', async () => {
    const unreachable = await connectNats('127.0.0.1:1');
    assert.match(unreachable.unavailable ?? '', /^NATS at 127\.0\.0\.1:1 is unreachable: /);
    const ci = process.env.CI;
    try {
      process.env.CI = 'false';
      assert.equal(natsSkipReason(unreachable), unreachable.unavailable);
      process.env.CI = 'true';
      assert.throws(() => natsSkipReason(unreachable), { message: unreachable.unavailable });
    } finally {
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
  });
});
