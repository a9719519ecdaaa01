import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteRegistryStore } from '../../src/storage/sqlite/sqlite-registry-store.js';
import { registryStoreContract } from './registry-store.contract.js';

registryStoreContract({
  name: 'sqlite',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazuli-'));
    const file = path.join(dir, 'registry.db');
    let store = new SqliteRegistryStore(openSqliteDatabase(file));
    return {
      store,
      async reopen() {
        await store.close();
        store = new SqliteRegistryStore(openSqliteDatabase(file));
        return store;
      },
      async destroy() {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
