import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { postgresMigrations, type PostgresMigration } from './migrations.js';

export interface PostgresOptions {
  /** e.g. `postgres://postgres@127.0.0.1:5432/lazuli` */
  connectionString: string;
  /**
   * The schema every pooled connection works in (its search_path); created by the first migration run when missing.
   * Lower-case letters, digits and `_`. Without it, connections keep the server's search_path (normally `public`).
   */
  schema?: string;
  /** Pool size; pg's default is 10. */
  maxConnections?: number;
  connectionTimeoutMillis?: number;
  /**
   * An idle pooled connection failed (the server restarted, say); the pool has already dropped it. Without a
   * listener such an error would crash the process.
   */
  onIdleError?: (err: Error) => void;
  migrations?: readonly PostgresMigration[];
}

/** What a store runs its statements on: the pool (each statement commits on its own) or one transaction. */
export interface Sql {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
}

export interface Transaction extends Sql {
  /** Roll back instead of committing when the body returns; the transaction's result is still the body's. */
  rollback(): void;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const INT8_OID = 20;
/** Deadlocks and serialization failures roll the whole transaction back: running it again is safe. */
const RETRYABLE = new Set(['40001', '40P01']);
const ATTEMPTS = 5;

// bigint columns (versions, sequence numbers, times in ms) hold safe integers; pg returns int8 as a string by default.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A pg.Pool on one schema. Stores share it; it belongs to whoever opened it, and the stores' close() leave it open.
 * Transactions run at READ COMMITTED: the stores make their writes atomic with conditional statements and row locks
 * (FOR UPDATE, SKIP LOCKED), which READ COMMITTED re-checks against the latest committed row.
 */
export class PostgresDatabase implements Sql {
  readonly schema: string | undefined;
  readonly #pool: pg.Pool;

  constructor(options: PostgresOptions) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new TypeError(`PostgreSQL schema name '${options.schema}' must match ${SCHEMA_NAME}`);
    }
    this.schema = options.schema;
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      types,
      ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
      ...(options.maxConnections === undefined ? {} : { max: options.maxConnections }),
      ...(options.connectionTimeoutMillis === undefined ? {} : { connectionTimeoutMillis: options.connectionTimeoutMillis }),
    });
    this.#pool.on('error', options.onIdleError ?? (() => {}));
  }

  /** One statement in its own transaction, run again after a deadlock. */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }> {
    return retrying(async () => rowsOf(await this.#pool.query<R>(text, values as unknown[] | undefined)));
  }

  /**
   * Runs `body` in a transaction on one connection and commits (or rolls back when the body throws or calls
   * `tx.rollback()`). After a deadlock or serialization failure the whole body runs again on a fresh transaction, so
   * it must keep no state from an earlier attempt.
   */
  async transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
    return retrying(async () => {
      const client = await this.#pool.connect();
      let broken: Error | undefined;
      try {
        let rollback = false;
        const tx: Transaction = {
          query: async <R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]) =>
            rowsOf(await client.query<R>(text, values as unknown[] | undefined)),
          rollback: () => {
            rollback = true;
          },
        };
        await client.query('BEGIN');
        const result = await body(tx);
        await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
        return result;
      } catch (err) {
        // A connection that cannot even roll back is discarded rather than returned to the pool.
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw err;
      } finally {
        client.release(broken);
      }
    });
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** Opens a pool on the schema and brings the schema up to date; several nodes may do so at once. */
export async function openPostgresDatabase(options: PostgresOptions): Promise<PostgresDatabase> {
  const db = new PostgresDatabase(options);
  try {
    await runMigrations(db, options.migrations ?? postgresMigrations);
    return db;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * Applies the steps not yet recorded in `schema_migrations`, all in one transaction. A transaction-scoped advisory
 * lock per schema comes first, before anything is read or created, so nodes starting together take turns: the first
 * applies the steps, the others then find them recorded. (Without it, even CREATE ... IF NOT EXISTS races.)
 */
export async function runMigrations(db: PostgresDatabase, steps: readonly PostgresMigration[]): Promise<void> {
  checkOrder(steps);
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`lazuli schema migrations: ${db.schema ?? 'default'}`]);
    if (db.schema !== undefined) await tx.query(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const unknown = [...applied].filter((v) => !steps.some((s) => s.version === v));
    if (unknown.length > 0) {
      throw new Error(`database has schema versions this build does not know (${unknown.join(', ')}); is it newer?`);
    }
    for (const step of steps) {
      if (applied.has(step.version)) continue;
      await tx.query(step.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
    }
  });
}

/** The SQLSTATE of a PostgreSQL error (e.g. '23505' unique violation), or undefined for any other error. */
export function sqlState(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}

async function retrying<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= ATTEMPTS || !RETRYABLE.has(sqlState(err) ?? '')) throw err;
      // Jittered, so that the transactions that collided do not collide again.
      await sleep(Math.random() * 10 * n);
    }
  }
}

function rowsOf<R extends pg.QueryResultRow>(result: pg.QueryResult<R>): { rows: R[]; rowCount: number } {
  return { rows: result.rows, rowCount: result.rowCount ?? 0 };
}

function checkOrder(steps: readonly PostgresMigration[]): void {
  let previous = 0;
  for (const step of steps) {
    if (!Number.isInteger(step.version) || step.version <= previous) {
      throw new TypeError(`migration ${step.name}: version ${step.version} must be an integer above ${previous}`);
    }
    previous = step.version;
  }
}
