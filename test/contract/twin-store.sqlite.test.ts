import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TwinRecord } from '../../src/domain/twin.js';
import { ABSENT } from '../../src/ports/twin-store.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { migrations } from '../../src/storage/sqlite/migrations.js';
import { SqliteTwinStore } from '../../src/storage/sqlite/sqlite-twin-store.js';
import { sqliteHarness, tempDatabaseFile } from '../support/sqlite.js';
import { twinStoreContract } from './twin-store.contract.js';

// 'wal-sync' is how the hub opens the twin store's connection; 'full' is the default any other caller gets.
for (const durability of ['full', 'wal-sync'] as const) twinStoreContract(sqliteHarness((db) => new SqliteTwinStore(db), durability));

function twin(deviceId: string, version: number, moduleId?: string): TwinRecord {
  return {
    deviceId,
    ...(moduleId === undefined ? {} : { moduleId }),
    version,
    tags: { version },
    desired: { properties: {}, version: 1, metadata: {} },
    reported: { properties: {}, version: 1, metadata: {} },
  };
}

describe('SqliteTwinStore', () => {
  test('a put resolves once committed: another connection sees it, and not before', async () => {
    const temp = tempDatabaseFile();
    const db = openSqliteDatabase(temp.file);
    const reader = openSqliteDatabase(temp.file);
    const store = new SqliteTwinStore(db);
    const other = new SqliteTwinStore(reader);
    try {
      const pending = store.put(twin('dev', 1), ABSENT);
      assert.equal(await other.get({ deviceId: 'dev' }), undefined);
      await pending;
      assert.deepEqual(await other.get({ deviceId: 'dev' }), twin('dev', 1));
    } finally {
      await store.close();
      await other.close();
      db.close();
      reader.close();
      temp.remove();
    }
  });

  test('a put failing its condition leaves the other writes of its batch committed', async () => {
    const temp = tempDatabaseFile();
    const db = openSqliteDatabase(temp.file);
    const store = new SqliteTwinStore(db);
    try {
      await store.put(twin('dev', 1), ABSENT);
      const results = await Promise.allSettled([
        store.put(twin('a', 1), ABSENT),
        store.put(twin('dev', 3), 2),
        store.put(twin('dev', 2), 1),
        store.put(twin('dev', 9, 'm'), ABSENT),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      assert.deepEqual(await store.get({ deviceId: 'a' }), twin('a', 1));
      assert.deepEqual(await store.get({ deviceId: 'dev' }), twin('dev', 2));
      assert.deepEqual(await store.get({ deviceId: 'dev', moduleId: 'm' }), twin('dev', 9, 'm'));
    } finally {
      await store.close();
      db.close();
      temp.remove();
    }
  });

  test('close commits the puts already issued and refuses later ones; the database stays open', async () => {
    const temp = tempDatabaseFile();
    const db = openSqliteDatabase(temp.file);
    const store = new SqliteTwinStore(db);
    try {
      const issued = store.put(twin('dev', 1), ABSENT);
      await store.close();
      await issued;
      await assert.rejects(store.put(twin('other', 1), ABSENT), /closed/);
      assert.deepEqual(await new SqliteTwinStore(db).list({ modules: false, limit: 10 }), [twin('dev', 1)]);
    } finally {
      db.close();
      temp.remove();
    }
  });

  test('an empty module id, a fractional version or a bad limit is refused before anything is written', async () => {
    const temp = tempDatabaseFile();
    const db = openSqliteDatabase(temp.file);
    const store = new SqliteTwinStore(db);
    try {
      await assert.rejects(store.put(twin('dev', 1, ''), ABSENT), TypeError);
      await assert.rejects(store.get({ deviceId: 'dev', moduleId: '' }), TypeError);
      await assert.rejects(store.deleteModule('dev', ''), TypeError);
      await assert.rejects(store.put(twin('dev', 1.5), ABSENT), TypeError);
      await assert.rejects(store.put(twin('dev', 2), 1.5), TypeError);
      await assert.rejects(store.list({ modules: false, limit: -1 }), TypeError);
      assert.deepEqual(await store.list({ modules: false, limit: 10 }), []);
    } finally {
      await store.close();
      db.close();
      temp.remove();
    }
  });

  test('migration 5 adds the twins table to a database made by earlier versions', async () => {
    const temp = tempDatabaseFile();
    try {
      openSqliteDatabase(temp.file, { migrations: migrations.filter((m) => m.version < 5) }).close();
      const db = openSqliteDatabase(temp.file);
      const store = new SqliteTwinStore(db);
      await store.put(twin('dev', 1), ABSENT);
      assert.deepEqual(await store.get({ deviceId: 'dev' }), twin('dev', 1));
      assert.deepEqual(db.prepare('SELECT version, name FROM schema_migrations WHERE version = 5').get(), { version: 5, name: 'twins' });
      await store.close();
      db.close();
    } finally {
      temp.remove();
    }
  });
});
