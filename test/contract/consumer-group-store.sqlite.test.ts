import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteDatabase, type SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteConsumerGroupStore } from '../../src/storage/sqlite/sqlite-consumer-group-store.js';
import { consumerGroupStoreContract } from './consumer-group-store.contract.js';

consumerGroupStoreContract({
  name: 'sqlite',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazuli-cg-'));
    const file = path.join(dir, 'hub.db');
    let db: SqliteDatabase = openSqliteDatabase(file);
    return {
      store: new SqliteConsumerGroupStore(db),
      async reopen() {
        db.close();
        db = openSqliteDatabase(file);
        return new SqliteConsumerGroupStore(db);
      },
      async destroy() {
        db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
