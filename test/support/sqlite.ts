import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteDatabase, type SqliteDatabase } from '../../src/storage/sqlite/database.js';

export type Durability = 'full' | 'wal-sync';

/** A database file in a fresh temporary folder, and the way to remove the folder. */
export function tempDatabaseFile(name = 'hub.db'): { file: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazuli-'));
  return { file: path.join(dir, name), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A contract-suite harness: each test gets a store on a fresh SQLite file; reopen closes the store and the connection
 * and opens both again on the same file (as a restarted hub would). The SQLite counterpart of postgresHarness.
 */
export function sqliteHarness<S extends { close(): Promise<void> }>(makeStore: (db: SqliteDatabase) => S, durability?: Durability) {
  const open = (file: string) => openSqliteDatabase(file, durability === undefined ? {} : { durability });
  return {
    name: durability === undefined ? 'sqlite' : `sqlite (${durability})`,
    async create() {
      const temp = tempDatabaseFile();
      let db = open(temp.file);
      let store = makeStore(db);
      return {
        store,
        async reopen() {
          await store.close();
          db.close();
          db = open(temp.file);
          store = makeStore(db);
          return store;
        },
        async destroy() {
          try {
            await store.close();
            db.close();
          } finally {
            temp.remove();
          }
        },
      };
    },
  };
}
