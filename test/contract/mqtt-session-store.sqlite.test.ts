import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteDatabase, type SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteMqttSessionStore } from '../../src/storage/sqlite/sqlite-mqtt-session-store.js';
import { mqttSessionStoreContract } from './mqtt-session-store.contract.js';

mqttSessionStoreContract({
  name: 'sqlite',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazuli-'));
    const file = path.join(dir, 'hub.db');
    let db: SqliteDatabase = openSqliteDatabase(file);
    let store = new SqliteMqttSessionStore(db);
    return {
      store,
      async reopen() {
        await store.close();
        db.close();
        db = openSqliteDatabase(file);
        store = new SqliteMqttSessionStore(db);
        return store;
      },
      async destroy() {
        await store.close();
        db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
