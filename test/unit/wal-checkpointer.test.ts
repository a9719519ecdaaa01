import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { tempDatabaseFile } from '../support/sqlite.js';
import { openSqliteDatabase, type SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { GroupCommit } from '../../src/storage/sqlite/group-commit.js';
import { WalCheckpointer } from '../../src/storage/sqlite/wal-checkpointer.js';
import { walSyncFor } from '../../src/storage/sqlite/wal-sync.js';

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const autocheckpoint = (db: SqliteDatabase) => Number(db.pragma('wal_autocheckpoint', { simple: true }));

/** Runs `body` on a fresh database file opened as the hub opens its group-committed connections. */
async function withWalSyncDatabase(body: (db: SqliteDatabase, file: string) => Promise<void>): Promise<void> {
  const { file, remove } = tempDatabaseFile();
  const db = openSqliteDatabase(file, { durability: 'wal-sync' });
  try {
    await body(db, file);
  } finally {
    db.close();
    remove();
  }
}
const PAYLOAD = Buffer.alloc(4000, 1); // about one page per row

test('the worker checkpoints while the connection does not, and keeps the WAL bounded under a steady load', () =>
  withWalSyncDatabase(async (db, file) => {
    db.exec('CREATE TABLE t (v BLOB)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const checkpointer = new WalCheckpointer(db, { intervalMs: 5, restartPages: 300 });
    try {
      await until(() => checkpointer.active, 'the worker took the checkpoints over');
      assert.equal(autocheckpoint(db), 0, 'the connection no longer checkpoints in its commits');
      const dbBytesBefore = fs.statSync(file).size;
      let largestWal = 0;
      // 6,000 pages in commits of 20: SQLite alone would have checkpointed 6 times, in these commits.
      for (let commit = 0; commit < 300; commit++) {
        db.transaction(() => {
          for (let i = 0; i < 20; i++) insert.run(PAYLOAD);
        })();
        largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
        await new Promise((r) => setTimeout(r, 2));
      }
      await until(() => fs.statSync(file).size > dbBytesBefore + 1000 * 4096, 'the rows reached the database file');
      assert.ok(largestWal < 2000 * 4096, `the WAL started over as it grew (largest ${largestWal} bytes for 6,000 pages written)`);
      await checkpointer.close();
      assert.equal(checkpointer.active, false);
      assert.equal(autocheckpoint(db), 1000, 'after the worker stopped the connection checkpoints for itself again');
      assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 6000);
    } finally {
      await checkpointer.close();
    }
  }));

test('a worker that cannot open the database leaves the connection checkpointing for itself', () =>
  withWalSyncDatabase(async (db, file) => {
    fs.renameSync(file, `${file}.moved`); // the connection keeps its open file; the worker finds none
    const checkpointer = new WalCheckpointer(db, { intervalMs: 5 });
    await checkpointer.close();
    assert.equal(checkpointer.active, false);
    assert.equal(autocheckpoint(db), 1000);
  }));

test('group commits on one connection share its WAL sync: its checkpoint worker starts once the WAL passed 1 MiB and stops with the last of them', () =>
  withWalSyncDatabase(async (db) => {
    db.exec('CREATE TABLE t (v BLOB)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const writer = () =>
      new GroupCommit<Buffer, number>({ commit: (items) => db.transaction(() => items.map((v) => Number(insert.run(v).lastInsertRowid)))(), committed: () => undefined, maxBatch: 100, durability: walSyncFor(db) });
    const a = writer();
    const b = writer();
    await Promise.all([a.submit(PAYLOAD), b.submit(PAYLOAD)]);
    assert.equal(autocheckpoint(db), 1000, 'a connection that wrote little checkpoints for itself');
    await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).submit(PAYLOAD)));
    const deadline = Date.now() + 5000;
    while (autocheckpoint(db) !== 0 && Date.now() < deadline) {
      await b.submit(PAYLOAD); // the WAL's size is looked at after a sync, at most once a second
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(autocheckpoint(db), 0, 'the worker checkpoints once the WAL grew');
    await a.close();
    assert.equal(autocheckpoint(db), 0, 'closing one group commit leaves the shared worker running');
    assert.ok((await b.submit(PAYLOAD)) > 400, 'the other group commit still commits and syncs');
    await b.close();
    assert.equal(autocheckpoint(db), 1000, 'closing the last group commit stops the worker');
  }));
