import Database from 'better-sqlite3';
import { migrations as registryMigrations, type Migration } from './migrations.js';

export type SqliteDatabase = Database.Database;

/**
 * Opens (creating if needed) the SQLite file and brings its schema up to date. Several processes may open the same
 * file at once: migrations run under SQLite's write lock, so each step is applied exactly once.
 */
export function openSqliteDatabase(
  file: string,
  options: {
    migrations?: readonly Migration[];
    /**
     * `full` (default): every commit syncs the WAL before it returns, so a commit that returned survives a crash of
     * the process or the machine. `wal-sync`: commits return once their frames are written (a process crash loses
     * nothing, a power loss may lose the last commits); for connections whose every acknowledged write goes through
     * a group commit, which syncs the WAL off the event loop (WalSync) before it acknowledges.
     */
    durability?: 'full' | 'wal-sync';
  } = {},
): SqliteDatabase {
  const db = new Database(file);
  try {
    // busy_timeout first, so the pragmas and migrations below wait for another process instead of failing.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma(options.durability === 'wal-sync' ? 'synchronous = NORMAL' : 'synchronous = FULL');
    db.pragma('foreign_keys = ON');
    runMigrations(db, options.migrations ?? registryMigrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Applies the steps not yet recorded in `schema_migrations`, all in one IMMEDIATE transaction. */
export function runMigrations(db: SqliteDatabase, steps: readonly Migration[]): void {
  checkOrder(steps);
  const apply = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const applied = new Set(
      db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[],
    );
    const known = new Set(steps.map((s) => s.version));
    const unknown = [...applied].filter((v) => !known.has(v));
    if (unknown.length > 0) {
      throw new Error(`database has schema versions this build does not know (${unknown.join(', ')}); is it newer?`);
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const step of steps) {
      if (applied.has(step.version)) continue;
      db.exec(step.sql);
      record.run(step.version, step.name, new Date().toISOString());
    }
  });
  // IMMEDIATE takes the write lock before reading schema_migrations, so two processes cannot both see a step as
  // pending.
  apply.immediate();
}

function checkOrder(steps: readonly Migration[]): void {
  let previous = 0;
  for (const step of steps) {
    if (!Number.isInteger(step.version) || step.version <= previous) {
      throw new TypeError(`migration ${step.name}: version ${step.version} must be an integer above ${previous}`);
    }
    previous = step.version;
  }
}
