import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { feedbackRecordsOf, type C2dMessage, type NewC2dMessage } from '../../src/domain/c2d.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteC2dStore } from '../../src/storage/sqlite/sqlite-c2d-store.js';
import { sqliteHarness, tempDatabaseFile } from '../support/sqlite.js';
import { c2dStoreContract } from './c2d-store.contract.js';

// 'wal-sync' is how the hub opens the C2D store's connection; 'full' is the default any other caller gets.
for (const durability of ['full', 'wal-sync'] as const) c2dStoreContract(sqliteHarness((db) => new SqliteC2dStore(db), durability));

const T0 = Date.parse('2025-01-02T03:04:05.678Z');

function message(id: string, ack: NewC2dMessage['ack'] = 'full'): NewC2dMessage {
  return {
    deviceId: 'dev',
    content: { body: Buffer.from(id), properties: { messageId: id }, applicationProperties: {} },
    ack,
    generationId: 'gen',
    enqueuedTime: T0,
    expiryTime: T0 + 60_000,
  };
}

describe('SqliteC2dStore', () => {
  test('a write resolves once committed: another connection sees it, and not before', async () => {
    const temp = tempDatabaseFile();
    const db = openSqliteDatabase(temp.file);
    const reader = openSqliteDatabase(temp.file);
    const store = new SqliteC2dStore(db);
    const other = new SqliteC2dStore(reader);
    try {
      const pending = store.enqueue(message('a'), 10);
      assert.equal(await other.count({ deviceId: 'dev' }, T0), 0);
      assert.equal(((await pending) as C2dMessage).sequenceNumber, 1);
      assert.equal(await other.count({ deviceId: 'dev' }, T0), 1);
    } finally {
      await store.close();
      await other.close();
      db.close();
      reader.close();
      temp.remove();
    }
  });

  test('a write that fails in a batch rejects alone; the rest of the batch commits', async () => {
    const temp = tempDatabaseFile();
    const db = openSqliteDatabase(temp.file);
    const store = new SqliteC2dStore(db);
    try {
      for (const id of ['r1', 'r2']) {
        await store.enqueue(message(id), 10);
        await store.purge({ deviceId: 'dev' }, T0);
      }
      // Batch ids are unique: the second seal fails inside the batch, and the records it took go back.
      const results = await Promise.allSettled([
        store.sealFeedback('batch', 1, T0),
        store.sealFeedback('batch', 1, T0),
        store.enqueue(message('after'), 10),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.match(String((results[1] as PromiseRejectedResult).reason), /UNIQUE/);
      assert.equal(await store.pendingFeedbackCount(), 1);
      assert.equal(await store.count({ deviceId: 'dev' }, T0), 1);
      assert.equal(await store.sealFeedback('next', 10, T0), 1);
      const lock = (token: string) => store.lockNextFeedback({ token, until: T0 + 10, now: T0, maxDeliveryCount: 10 });
      const batches = [await lock('first'), await lock('second')];
      assert.deepEqual(
        batches.map((b) => [b?.batchId, feedbackRecordsOf(b!).map((r) => r.originalMessageId)]),
        [['batch', ['r1']], ['next', ['r2']]],
      );
    } finally {
      await store.close();
      db.close();
      temp.remove();
    }
  });

  test('close commits the writes already issued and refuses later ones; the database stays open', async () => {
    const temp = tempDatabaseFile();
    const db = openSqliteDatabase(temp.file);
    const store = new SqliteC2dStore(db);
    try {
      const issued = store.enqueue(message('a'), 10);
      await store.close();
      assert.equal(((await issued) as C2dMessage).sequenceNumber, 1);
      await assert.rejects(store.enqueue(message('b'), 10), /closed/);
      assert.equal(await new SqliteC2dStore(db).count({ deviceId: 'dev' }, T0), 1);
    } finally {
      db.close();
      temp.remove();
    }
  });
});
