import { open, type FileHandle } from 'node:fs/promises';
import type { SqliteDatabase } from './database.js';

/**
 * Durable commits without blocking the event loop. A connection in WAL mode with `synchronous = NORMAL` commits by
 * writing its frames to the WAL file (they are in the OS and survive a crash of the process) without an fsync; this
 * fsyncs the WAL on libuv's thread pool, and a commit counts as durable (survives a power loss) once a sync that
 * began after it has finished. With FULL, SQLite fsyncs inside every commit, on the event loop: under a moderate
 * load (many small commits) that was a quarter of the hub's main thread.
 *
 * Syncs are shared: a caller that arrives while one runs waits for the next, which covers everyone waiting.
 */
export class WalSync {
  #file: Promise<FileHandle> | undefined;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(private readonly walPath: string) {}

  /** Resolves once everything written to the WAL before the call is on disk. */
  sync(): Promise<void> {
    if (this.#running === undefined) return this.#start();
    // The running sync may have begun before the caller's frames were written: the next one covers them.
    this.#queued ??= this.#running.then(
      () => this.#next(),
      () => this.#next(),
    );
    return this.#queued;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#running, this.#queued]);
    const file = this.#file;
    this.#file = undefined;
    if (file) await file.then((handle) => handle.close(), () => undefined);
  }

  #next(): Promise<void> {
    this.#queued = undefined;
    return this.#start();
  }

  #start(): Promise<void> {
    const run = this.#datasync();
    this.#running = run;
    const done = () => {
      if (this.#running === run) this.#running = undefined;
    };
    run.then(done, done);
    return run;
  }

  async #datasync(): Promise<void> {
    this.#file ??= open(this.walPath, 'r');
    try {
      await (await this.#file).datasync();
    } catch (err) {
      // Opened again next time: the file may not have existed yet, or the handle went bad.
      this.#file = undefined;
      throw err;
    }
  }
}

/**
 * The WalSync a group commit on `db` needs before it acknowledges: one when the connection commits without syncing
 * (WAL mode, synchronous below FULL), none when SQLite already syncs every commit or the database is in memory.
 */
export function walSyncFor(db: SqliteDatabase): WalSync | undefined {
  const journal = String(db.pragma('journal_mode', { simple: true })).toLowerCase();
  const synchronous = Number(db.pragma('synchronous', { simple: true }));
  if (db.memory || journal !== 'wal' || synchronous >= 2) return undefined;
  return new WalSync(`${db.name}-wal`);
}
