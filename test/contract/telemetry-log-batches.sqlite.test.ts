// The SQLite telemetry log's storage format: batch rows (telemetry-batch-rows.ts), the migration from one row per
// event, the query plans, and retention on rows holding many events, checked against the in-memory log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { LogEvent, RetentionPolicy, TelemetryLog } from '../../src/ports/telemetry-log.js';
import { MemoryTelemetryLog } from '../../src/storage/memory/memory-telemetry-log.js';
import { openSqliteDatabase, type SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteTelemetryLog, type SqliteTelemetryLogOptions } from '../../src/storage/sqlite/sqlite-telemetry-log.js';
import { MAX_ROW_BYTES, MAX_ROW_EVENTS } from '../../src/storage/sqlite/telemetry-batch-rows.js';
import { telemetryMigrations } from '../../src/storage/sqlite/telemetry-migrations.js';
import { prepareTelemetryStatements } from '../../src/storage/sqlite/telemetry-statements.js';

function tempFile(): { file: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazuli-telemetry-rows-'));
  return { file: path.join(dir, 'telemetry.db'), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs body with a log on a fresh file and the connection under it, closing and removing both afterwards. */
async function withLog(options: SqliteTelemetryLogOptions, body: (log: SqliteTelemetryLog, db: SqliteDatabase) => Promise<void>): Promise<void> {
  const temp = tempFile();
  const db = openSqliteDatabase(temp.file, { migrations: telemetryMigrations });
  const log = new SqliteTelemetryLog(db, options);
  try {
    await body(log, db);
  } finally {
    await log.close();
    temp.remove();
  }
}

function summary(e: LogEvent) {
  return [e.partition, e.sequenceNumber, e.offset, e.enqueuedTime, e.partitionKey, e.payload.toString('hex')];
}

interface Row {
  partition: number;
  first_sequence: number;
  last_sequence: number;
  size: number;
  layout: Buffer | null;
}

function rows(db: SqliteDatabase): Row[] {
  return db
    .prepare<[], Row>(
      `SELECT partition, first_sequence, last_sequence, length(payload) AS size, layout FROM telemetry_batches
       ORDER BY partition, first_sequence`,
    )
    .all();
}

/** xorshift32: the same "random" scenario on every run. */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

test('a database of migration 1 keeps its events, numbering and times, as one-event rows', async () => {
  const temp = tempFile();
  try {
    const v1 = openSqliteDatabase(temp.file, { migrations: telemetryMigrations.slice(0, 1) });
    const binary = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256));
    // Partition 0: events 0 and 1 were removed by retention; partition 1 never had an event.
    const events: Array<[number, number, string | null, Buffer]> = [
      [2, 1000, 'k', Buffer.from('two')],
      [3, 2000, null, Buffer.alloc(0)],
      [4, 2000, '', binary],
    ];
    v1.exec(`INSERT INTO telemetry_meta (key, value) VALUES ('partition_count', 2)`);
    v1.prepare('INSERT INTO telemetry_partitions (partition, next_sequence, bytes, last_enqueued_time) VALUES (?, ?, ?, ?)').run(0, 5, 303, 2000);
    v1.prepare('INSERT INTO telemetry_partitions (partition, next_sequence, bytes, last_enqueued_time) VALUES (?, ?, ?, ?)').run(1, 0, 0, 0);
    const insert = v1.prepare('INSERT INTO telemetry_events (partition, sequence, enqueued_time, partition_key, payload) VALUES (0, ?, ?, ?, ?)');
    for (const e of events) insert.run(...e);
    v1.close();

    const db = openSqliteDatabase(temp.file, { migrations: telemetryMigrations });
    const log = new SqliteTelemetryLog(db, { partitionCount: 2, now: () => 1500, retention: { maxAgeMs: 1e12, maxBytesPerPartition: 304 } });
    try {
      const expected = events.map(([sequence, time, key, payload]) => [0, sequence, String(sequence), time, key ?? undefined, payload.toString('hex')]);
      assert.deepEqual((await log.read(0, 0, 100)).map(summary), expected);
      assert.deepEqual((await log.read(0, 3, 1)).map(summary), expected.slice(1, 2));
      assert.deepEqual(await log.read(1, 0, 100), []);
      assert.deepEqual(await log.partitionInfo(0), {
        partition: 0,
        beginningSequenceNumber: 2,
        lastEnqueuedSequenceNumber: 4,
        lastEnqueuedOffset: '4',
        lastEnqueuedTime: 2000,
        isEmpty: false,
      });
      assert.equal((await log.partitionInfo(1)).isEmpty, true);
      assert.equal(await log.resolveStart(0, { kind: 'enqueuedTime', value: 1500, inclusive: true }), 3);
      assert.equal(await log.resolveStart(0, { kind: 'enqueuedTime', value: 1000, inclusive: true }), 2);
      assert.deepEqual(
        rows(db).map((r) => [r.first_sequence, r.last_sequence, r.layout]),
        [[2, 2, null], [3, 3, null], [4, 4, null]],
      );
      assert.equal(db.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'telemetry_events'`).pluck().get(), 0);

      const next = await log.append({ partition: 0, payload: Buffer.from('five') });
      assert.deepEqual([next.sequenceNumber, next.enqueuedTime], [5, 2000]);
      // 307 bytes, 304 allowed: the 3 bytes of event 2 go, and the byte count carried over from migration 1 is right.
      assert.equal(await log.enforceRetention(3000), 1);
      assert.equal((await log.partitionInfo(0)).beginningSequenceNumber, 3);
    } finally {
      await log.close();
    }
  } finally {
    temp.remove();
  }
});

test('a batch makes one row per partition, cut at a new partition key and at the row limits', async () => {
  await withLog({ partitionCount: 2, now: () => 1000 }, async (log, db) => {
    const large = Buffer.alloc(MAX_ROW_BYTES / 2 + 1, 1);
    const appends = [
      ...Array.from({ length: MAX_ROW_EVENTS + 10 }, (_, i) => ({ partition: 0, payload: Buffer.from(`e${i}`) })),
      { partition: 1, payload: Buffer.from('a') },
      { partition: 1, payload: Buffer.from('b'), partitionKey: 'k' },
      { partition: 1, payload: Buffer.from('c'), partitionKey: 'k' },
      { partition: 1, payload: Buffer.from('d') },
      { partition: 1, payload: large },
      { partition: 1, payload: large },
      { partition: 1, payload: Buffer.alloc(MAX_ROW_BYTES + 1, 2) },
    ];
    const appended = await Promise.all(appends.map((a) => log.append(a)));
    assert.deepEqual(
      rows(db).map((r) => [r.partition, r.first_sequence, r.last_sequence, r.size]),
      [
        [0, 0, MAX_ROW_EVENTS - 1, appended.slice(0, MAX_ROW_EVENTS).reduce((sum, e) => sum + e.payload.length, 0)],
        [0, MAX_ROW_EVENTS, MAX_ROW_EVENTS + 9, appended.slice(MAX_ROW_EVENTS, MAX_ROW_EVENTS + 10).reduce((sum, e) => sum + e.payload.length, 0)],
        [1, 0, 0, 1],
        [1, 1, 2, 2],
        [1, 3, 4, 1 + large.length],
        [1, 5, 5, large.length],
        [1, 6, 6, MAX_ROW_BYTES + 1],
      ],
    );
    for (const partition of [0, 1]) {
      const stored = await log.read(partition, 0, 1000);
      assert.deepEqual(stored.map(summary), appended.filter((e) => e.partition === partition).map(summary));
    }
  });
});

test('reads and retention on many-event rows behave exactly as the in-memory log', async () => {
  const next = random(20240611);
  for (const retention of [
    { maxAgeMs: 1e12, maxBytesPerPartition: 40_000 },
    { maxAgeMs: 50, maxBytesPerPartition: 1e12 },
    { maxAgeMs: 200, maxBytesPerPartition: 120_000 },
  ] satisfies RetentionPolicy[]) {
    let time = 1000;
    const now = () => time;
    const reference = new MemoryTelemetryLog(2, { retention, now });
    await withLog({ partitionCount: 2, retention, now }, async (log, db) => {
      const logs: TelemetryLog[] = [reference, log];
      const same = async <T>(what: string, call: (l: TelemetryLog) => Promise<T>): Promise<T> => {
        const [expected, actual] = await Promise.all(logs.map(call));
        const plain = (x: unknown) => (Array.isArray(x) ? x.map((e: LogEvent) => summary(e)) : x);
        assert.deepEqual(plain(actual), plain(expected), what);
        return actual!;
      };
      let longest = 0;
      for (let round = 0; round < 40; round++) {
        time += [0, 10, 30, -20][next(4)]!;
        const keyed = next(4) === 0;
        const batch = Array.from({ length: 1 + next(next(3) === 0 ? 600 : 20) }, () => {
          const partitionKey = keyed && next(10) === 0 ? ['k', ''][next(2)] : undefined;
          const payload = Buffer.alloc(next(8) === 0 ? next(3000) : next(400), round);
          return { partition: next(2), payload, ...(partitionKey === undefined ? {} : { partitionKey }) };
        });
        for (const l of logs) await Promise.all(batch.map((a) => l.append(a)));
        longest = Math.max(longest, ...rows(db).map((r) => r.last_sequence - r.first_sequence + 1));
        if (next(3) === 0) await same(`round ${round}: removed`, (l) => l.enforceRetention(time));
        for (const partition of [0, 1]) {
          const info = await same(`round ${round}: partitionInfo`, (l) => l.partitionInfo(partition));
          await same(`round ${round}: all of ${partition}`, (l) => l.read(partition, 0, 1_000_000));
          const from = next(4) === 0 ? 0 : info.beginningSequenceNumber - 3 + next(info.lastEnqueuedSequenceNumber - info.beginningSequenceNumber + 6);
          const max = 1 + next(300);
          await same(`round ${round}: ${max} of ${partition} from ${from}`, (l) => l.read(partition, from, max));
          const at = time - 100 + next(120);
          for (const inclusive of [true, false]) {
            await same(`round ${round}: ${partition} at ${at}`, (l) => l.resolveStart(partition, { kind: 'enqueuedTime', value: at, inclusive }));
          }
        }
      }
      assert.ok(longest > 100, 'the scenario made rows of many events');
      const count = (r: Row) => r.last_sequence - r.first_sequence + 1;
      assert.ok(rows(db).every((r) => (r.layout === null ? count(r) === 1 : r.layout.length === 4 * count(r))), 'every layout fits its row');
    });
  }
});

test('retention removes many rows in several transactions and trims a row to the byte limit', async () => {
  let time = 0;
  await withLog({ partitionCount: 1, now: () => time, retention: { maxAgeMs: 100, maxBytesPerPartition: 25 } }, async (log, db) => {
    for (let i = 0; i < 30; i++) await Promise.all(Array.from({ length: 200 }, () => log.append({ partition: 0, payload: Buffer.alloc(0) })));
    time = 1000;
    await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ partition: 0, payload: Buffer.from(`${i}abcdefghi`) })));
    const removed = log.enforceRetention(1000);
    // Its first transaction has run; it yields to the event loop before the next, about 2000 events later.
    const left = rows(db).length;
    assert.ok(left > 1 && left < 31, `${left} of 31 rows left after the first transaction`);
    assert.equal(await removed, 6000 + 8);
    assert.deepEqual((await log.read(0, 0, 100)).map((e) => [e.sequenceNumber, e.payload.toString()]), [[6008, '8abcdefghi'], [6009, '9abcdefghi']]);
    assert.deepEqual(rows(db).map((r) => [r.first_sequence, r.last_sequence, r.size]), [[6008, 6009, 20]]);
    assert.equal((await log.partitionInfo(0)).beginningSequenceNumber, 6008);
  });
});

test('every statement on telemetry_batches with a WHERE clause seeks by the primary key, without a scan or sort', () => {
  const temp = tempFile();
  const db = openSqliteDatabase(temp.file, { migrations: telemetryMigrations });
  try {
    const statements = Object.entries(prepareTelemetryStatements(db)).filter(([, s]) => /telemetry_batches[\s\S]*WHERE/.test(s.source));
    assert.ok(statements.length >= 6, statements.map(([name]) => name).join(', '));
    for (const [name, statement] of statements) {
      const named = /:\w+/.test(statement.source);
      const params = named ? { partition: 0, from: 0, max: 1 } : Array.from(statement.source.matchAll(/\?/g), () => 0);
      const plan = db
        .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${statement.source}`)
        .all(params)
        .map((r) => r.detail);
      const key = /^SEARCH telemetry_batches USING (COVERING )?INDEX sqlite_autoindex_telemetry_batches_1 \(partition=\?/;
      assert.ok(!plan.some((line) => /^SCAN|TEMP B-TREE/.test(line)), `${name}: ${plan.join('; ')}`);
      assert.ok(plan.some((line) => key.test(line)), `${name}: ${plan.join('; ')}`);
    }
  } finally {
    db.close();
    temp.remove();
  }
});
