import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { tempDatabaseFile } from '../support/sqlite.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { GroupCommit } from '../../src/storage/sqlite/group-commit.js';
import { WalSync, walSyncFor } from '../../src/storage/sqlite/wal-sync.js';

/** A durability whose syncs the test finishes by hand, in order. */
function manualSyncs() {
  const pending: Array<{ resolve(): void; reject(err: unknown): void }> = [];
  return {
    durability: { sync: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })), close: async () => undefined },
    pending,
  };
}

const turn = () => new Promise((r) => setImmediate(r));

test('a connection that syncs its own commits needs no WalSync; one opened for wal-sync does', () => {
  const { file, remove } = tempDatabaseFile();
  try {
    const full = openSqliteDatabase(file);
    const deferred = openSqliteDatabase(file, { durability: 'wal-sync' });
    assert.equal(walSyncFor(full), undefined);
    assert.notEqual(walSyncFor(deferred), undefined);
    full.close();
    deferred.close();
  } finally {
    remove();
  }
});

test('a group commit with a durability settles a batch only once its sync finished, and gathers the next batch meanwhile', async () => {
  const syncs = manualSyncs();
  const committed: number[][] = [];
  const writer = new GroupCommit<number, number>({ commit: (items) => items.map((n) => n * 10), committed: (r) => committed.push([...r]), maxBatch: 100, durability: syncs.durability });
  const settled: number[] = [];
  const first = [writer.submit(1), writer.submit(2)].map((p) => p.then((r) => settled.push(r)));
  await turn();
  const second = [writer.submit(3), writer.submit(4)].map((p) => p.then((r) => settled.push(r)));
  await turn();
  assert.equal(syncs.pending.length, 1, 'what arrives during a sync waits for it, to make one batch');
  assert.deepEqual(settled, [], 'committed, but nobody told before the sync');
  syncs.pending[0]!.resolve();
  await Promise.all(first);
  assert.deepEqual(settled, [10, 20]);
  assert.deepEqual(committed, [[10, 20]]);
  await turn();
  assert.equal(syncs.pending.length, 2, 'the next batch committed when the sync ended');
  syncs.pending[1]!.resolve();
  await Promise.all(second);
  assert.deepEqual(committed, [[10, 20], [30, 40]]);
  assert.deepEqual(settled, [10, 20, 30, 40]);
  await writer.settled();
});

test('a batch whose sync fails is rejected: committed but not known durable, so not acknowledged', async () => {
  const syncs = manualSyncs();
  const writer = new GroupCommit<number, number>({ commit: (items) => [...items], committed: () => undefined, maxBatch: 100, durability: syncs.durability });
  const result = writer.submit(1);
  await turn();
  syncs.pending[0]!.reject(new Error('EIO'));
  await assert.rejects(result, /EIO/);
  await writer.settled();
});

test('WalSync: callers during a sync share the next one; a missing WAL rejects and a later sync opens it again', async () => {
  const { file: dbFile, remove } = tempDatabaseFile();
  try {
    const file = `${dbFile}.other-wal`; // not the connection's WAL: the test creates it by hand
    const db = openSqliteDatabase(dbFile, { durability: 'wal-sync' });
    const wal = new WalSync(db, file);
    await assert.rejects(wal.sync(), /ENOENT/);
    fs.writeFileSync(file, 'frames');
    const running = wal.sync();
    const next1 = wal.sync();
    const next2 = wal.sync();
    assert.notEqual(next1, running, 'a caller during a sync waits for a later one');
    assert.equal(next1, next2, 'callers during one sync share the next');
    await Promise.all([running, next1, next2]);
    await wal.sync();
    await wal.close();
    db.close();
  } finally {
    remove();
  }
});

test('a wal-sync connection\'s group-committed write is in the WAL file and readable by another connection once it resolves', async () => {
  const { file, remove } = tempDatabaseFile();
  try {
    const db = openSqliteDatabase(file, { durability: 'wal-sync' });
    db.exec('CREATE TABLE t (v INTEGER)');
    const wal = walSyncFor(db)!;
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const writer = new GroupCommit<number, number>({
      commit: (items) => db.transaction(() => items.map((v) => Number(insert.run(v).lastInsertRowid)))(),
      committed: () => undefined,
      maxBatch: 100,
      durability: wal,
    });
    await Promise.all([writer.submit(1), writer.submit(2)]);
    assert.ok(fs.statSync(`${file}-wal`).size > 0);
    const reader = openSqliteDatabase(file);
    assert.equal(reader.prepare('SELECT count(*) FROM t').pluck().get(), 2);
    reader.close();
    await wal.close();
    db.close();
  } finally {
    remove();
  }
});
