import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { openPostgresDatabase, type PostgresDatabase, type PostgresOptions } from '../../src/storage/postgres/database.js';

/** The server the PostgreSQL tests use; LAZULI_TEST_POSTGRES_URL overrides it. Trust auth, database `test`. */
export const POSTGRES_URL = process.env.LAZULI_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let probe: Promise<string | undefined> | undefined;

/** Why PostgreSQL cannot be used, or undefined when it answers; asked once per test file. */
export function postgresUnavailable(): Promise<string | undefined> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (err) {
      const { host } = new URL(POSTGRES_URL);
      return `PostgreSQL at ${host} is unreachable: ${describeError(err)}`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return probe;
}

/**
 * Defines a file's PostgreSQL tests when the server answers. Otherwise one test stands in for them and says why:
 * skipped locally, failed when CI=true (CI must prove these tests, not skip them).
 */
export async function withPostgres(suite: string, define: () => void): Promise<void> {
  const why = await postgresUnavailable();
  if (why === undefined) {
    define();
    return;
  }
  test(suite, (t) => {
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
  });
}

/**
 * A schema of its own for one test (`lazuli_test_<pid>_<random>`), not created yet: the first open() creates it
 * through the migrations. Every open() is a new pool (a node) on it; drop() removes it with everything in it.
 */
export interface TestSchema {
  name: string;
  open(options?: Partial<PostgresOptions>): Promise<PostgresDatabase>;
  drop(): Promise<void>;
}

export function testSchema(): TestSchema {
  const name = `lazuli_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  return {
    name,
    open: (options = {}) => openPostgresDatabase({ connectionString: POSTGRES_URL, schema: name, ...options }),
    drop: () => adminQuery(`DROP SCHEMA IF EXISTS ${name} CASCADE`),
  };
}

/**
 * A contract-suite harness: each test gets a store on a fresh schema; reopen closes the pool and opens a new one on
 * the same schema (as a restarted node would).
 */
export function postgresHarness<S extends { close(): Promise<void> }>(makeStore: (db: PostgresDatabase) => S) {
  return {
    name: 'postgres',
    async create() {
      const schema = testSchema();
      let db = await schema.open();
      let store = makeStore(db);
      return {
        store,
        async reopen() {
          await store.close();
          await db.close();
          db = await schema.open();
          store = makeStore(db);
          return store;
        },
        async destroy() {
          try {
            await store.close();
            await db.close();
          } finally {
            await schema.drop();
          }
        },
      };
    },
  };
}

/** One statement on a connection of its own, outside any test schema. */
async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function describeError(err: unknown): string {
  if (err instanceof AggregateError) return err.errors.map(describeError).join('; ');
  if (err instanceof Error) return err.message || (err as { code?: string }).code || err.name;
  return String(err);
}
