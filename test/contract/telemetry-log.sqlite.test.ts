import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteTelemetryLog, type SqliteTelemetryLogOptions } from '../../src/storage/sqlite/sqlite-telemetry-log.js';
import { telemetryMigrations } from '../../src/storage/sqlite/telemetry-migrations.js';
import { telemetryLogContract } from './telemetry-log.contract.js';

function openLog(file: string, options: SqliteTelemetryLogOptions, durability: 'full' | 'wal-sync' = 'wal-sync'): SqliteTelemetryLog {
  const db = openSqliteDatabase(file, { migrations: telemetryMigrations, durability });
  try {
    return new SqliteTelemetryLog(db, options);
  } catch (err) {
    db.close();
    throw err;
  }
}

function tempFile(): { file: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazuli-telemetry-'));
  return { file: path.join(dir, 'telemetry.db'), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// 'wal-sync' is how the hub opens the telemetry database; 'full' is the default any other caller gets.
for (const durability of ['full', 'wal-sync'] as const) telemetryLogContract({
  name: `sqlite (${durability})`,
  async create(options) {
    const temp = tempFile();
    let log = openLog(temp.file, options, durability);
    return {
      log,
      async reopen(changes = {}) {
        await log.close();
        log = openLog(temp.file, { ...options, ...changes }, durability);
        return log;
      },
      async destroy() {
        await log.close();
        temp.remove();
      },
    };
  },
});

describe('SqliteTelemetryLog', () => {
  test('a failed commit rejects its whole batch and skips or reuses no sequence number', async () => {
    const temp = tempFile();
    const db = openSqliteDatabase(temp.file, { migrations: telemetryMigrations });
    const log = new SqliteTelemetryLog(db, { partitionCount: 2 });
    const append = (partition: number, text: string) => log.append({ partition, payload: Buffer.from(text) });
    try {
      await append(0, 'before');
      // Fails, inside its transaction, any batch that holds the payload "poison" (a TEMP trigger: this connection only).
      // A row may hold several events' payloads concatenated (telemetry-batch-rows.ts), hence instr.
      db.exec(`CREATE TEMP TRIGGER poison BEFORE INSERT ON main.telemetry_batches
               WHEN instr(NEW.payload, CAST('poison' AS BLOB)) > 0 BEGIN SELECT RAISE(ABORT, 'poisoned'); END`);
      const batch = [append(0, 'a'), append(1, 'b'), append(0, 'poison'), append(0, 'c')];
      for (const outcome of await Promise.allSettled(batch)) {
        assert.equal(outcome.status, 'rejected');
        assert.match(String(outcome.reason), /poisoned/);
      }
      db.exec('DROP TRIGGER poison');
      assert.equal((await append(0, 'after')).sequenceNumber, 1);
      assert.equal((await append(1, 'after')).sequenceNumber, 0);
      const stored = async (partition: number) => (await log.read(partition, 0, 10)).map((e) => `${e.sequenceNumber}:${e.payload.toString()}`);
      assert.deepEqual(await stored(0), ['0:before', '1:after']);
      assert.deepEqual(await stored(1), ['0:after']);
      assert.equal((await log.partitionInfo(0)).lastEnqueuedSequenceNumber, 1);
    } finally {
      await log.close();
      temp.remove();
    }
  });

  test('refuses a database without the telemetry schema, and a partition count below 1', async () => {
    const temp = tempFile();
    const db = openSqliteDatabase(temp.file);
    try {
      assert.throws(() => new SqliteTelemetryLog(db, { partitionCount: 2 }), /telemetryMigrations/);
      assert.throws(() => openLog(temp.file + '-2', { partitionCount: 0 }), TypeError);
    } finally {
      db.close();
      temp.remove();
    }
  });
});
