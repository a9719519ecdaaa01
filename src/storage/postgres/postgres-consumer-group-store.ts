import type { ConsumerGroupStore } from '../../ports/consumer-group-store.js';
import type { PostgresDatabase } from './database.js';

interface GroupRow {
  name: string;
  created_at: string;
}

// The argument is folded under "C", as the indexed lower(name) is (see migration 5): under the database's default
// collation lower() may fold more than ASCII, and the comparison would then disagree with the unique index.
const KEY = 'lower($1 COLLATE "C")';

const SQL = {
  list: 'SELECT name, created_at FROM consumer_groups ORDER BY lower(name)',
  insert: 'INSERT INTO consumer_groups (name, created_at) VALUES ($1, $2) ON CONFLICT (lower(name)) DO NOTHING',
  delete: `DELETE FROM consumer_groups WHERE lower(name) = ${KEY}`,
  exists: `SELECT 1 FROM consumer_groups WHERE lower(name) = ${KEY}`,
};

/**
 * ConsumerGroupStore on the `consumer_groups` table (migration 5) of a PostgresDatabase. The unique index on
 * lower(name) makes names unique regardless of case in PostgreSQL itself, across every node: of concurrent creates
 * of one name, exactly one inserts and the others do nothing. The pool belongs to whoever opened it.
 */
export class PostgresConsumerGroupStore implements ConsumerGroupStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async list(): Promise<Array<{ name: string; createdAt: string }>> {
    const { rows } = await this.#db.query<GroupRow>(SQL.list);
    return rows.map((row) => ({ name: row.name, createdAt: row.created_at }));
  }

  async create(name: string, createdAt: string): Promise<boolean> {
    return (await this.#db.query(SQL.insert, [name, createdAt])).rowCount === 1;
  }

  async delete(name: string): Promise<boolean> {
    return (await this.#db.query(SQL.delete, [name])).rowCount === 1;
  }

  async exists(name: string): Promise<boolean> {
    return (await this.#db.query(SQL.exists, [name])).rowCount > 0;
  }
}
