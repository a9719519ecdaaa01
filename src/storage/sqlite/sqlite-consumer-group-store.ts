import type { ConsumerGroupStore } from '../../ports/consumer-group-store.js';
import type { SqliteDatabase } from './database.js';

interface GroupRow {
  name: string;
  created_at: string;
}

/**
 * ConsumerGroupStore on the `consumer_groups` table (migration 3). The name column is COLLATE NOCASE, so lookups,
 * uniqueness and deletes fold case in SQLite itself, across every process sharing the file.
 */
export class SqliteConsumerGroupStore implements ConsumerGroupStore {
  readonly #sql: ReturnType<typeof prepareStatements>;

  constructor(db: SqliteDatabase) {
    this.#sql = prepareStatements(db);
  }

  async list(): Promise<Array<{ name: string; createdAt: string }>> {
    return this.#sql.list.all().map((row) => ({ name: row.name, createdAt: row.created_at }));
  }

  async create(name: string, createdAt: string): Promise<boolean> {
    return this.#sql.insert.run(name, createdAt).changes === 1;
  }

  async delete(name: string): Promise<boolean> {
    return this.#sql.delete.run(name).changes === 1;
  }

  async exists(name: string): Promise<boolean> {
    return this.#sql.exists.get(name) !== undefined;
  }
}

function prepareStatements(db: SqliteDatabase) {
  return {
    list: db.prepare<[], GroupRow>('SELECT name, created_at FROM consumer_groups ORDER BY name'),
    insert: db.prepare<[string, string]>('INSERT INTO consumer_groups (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
    delete: db.prepare<[string]>('DELETE FROM consumer_groups WHERE name = ?'),
    exists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM consumer_groups WHERE name = ?'),
  };
}
