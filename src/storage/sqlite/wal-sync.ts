import { open, type FileHandle } from 'node:fs/promises';
import type { SqliteDatabase } from './database.js';
import type { Durability } from './group-commit.js';
import { WalCheckpointer } from './wal-checkpointer.js';

/** WAL size past which its checkpoints move to a worker thread: a connection that wrote little never starts one. */
const CHECKPOINT_WORKER_AFTER_BYTES = 1 << 20;
/** The WAL's size is looked at no more often than this (a sync may run every fraction of a millisecond). */
const SIZE_CHECK_INTERVAL_MS = 1000;

/**
 * Durable commits without blocking the event loop. A connection in WAL mode with `synchronous = NORMAL` commits by
 * writing its frames to the WAL file (they are in the OS and survive a crash of the process) without an fsync; this
 * fsyncs the WAL on libuv's thread pool, and a commit counts as durable (survives a power loss) once a sync that
 * began after it has finished. With FULL, SQLite fsyncs inside every commit, on the event loop: under a moderate
 * load (many small commits) that was a quarter of the hub's main thread.
 *
 * Syncs are shared: a caller that arrives while one runs waits for the next, which covers everyone waiting.
 *
 * Once the WAL has grown past 1 MiB (the connection carries a real load), its checkpoints move off the event loop
 * too (WalCheckpointer).
 */
export class WalSync {
  readonly #db: SqliteDatabase;
  readonly #walPath: string;
  #file: Promise<FileHandle> | undefined;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #checkpointer: WalCheckpointer | undefined;
  #sizeCheckedAt = 0;
  #closed = false;

  /** `walPath` is the connection's WAL file; only tests name another. */
  constructor(db: SqliteDatabase, walPath = `${db.name}-wal`) {
    this.#db = db;
    this.#walPath = walPath;
  }

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
    this.#closed = true;
    await Promise.allSettled([this.#running, this.#queued]);
    const file = this.#file;
    this.#file = undefined;
    if (file) await file.then((handle) => handle.close(), () => undefined);
    await this.#checkpointer?.close();
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
    this.#file ??= open(this.#walPath, 'r');
    try {
      const handle = await this.#file;
      await handle.datasync();
      if (this.#checkpointer === undefined && !this.#closed && performance.now() - this.#sizeCheckedAt >= SIZE_CHECK_INTERVAL_MS) {
        this.#sizeCheckedAt = performance.now();
        await this.#handOverCheckpoints(handle);
      }
    } catch (err) {
      // Opened again next time: the file may not have existed yet, or the handle went bad.
      this.#file = undefined;
      throw err;
    }
  }

  /** Never fails the sync: without a worker the connection keeps checkpointing for itself, which is only slower. */
  async #handOverCheckpoints(handle: FileHandle): Promise<void> {
    try {
      if ((await handle.stat()).size > CHECKPOINT_WORKER_AFTER_BYTES) this.#checkpointer = new WalCheckpointer(this.#db);
    } catch {
      this.#sizeCheckedAt = Number.POSITIVE_INFINITY; // not tried again
    }
  }
}

const shared = new WeakMap<SqliteDatabase, { walSync: WalSync; users: number }>();

/**
 * The durability a group commit on `db` needs before it acknowledges: a WalSync when the connection commits without
 * syncing (WAL mode, synchronous below FULL), none when SQLite already syncs every commit or the database is in
 * memory. Group commits on one connection share its WalSync (one fsync covers them all, one checkpoint worker); it
 * closes with the last of them.
 */
export function walSyncFor(db: SqliteDatabase): Durability | undefined {
  const journal = String(db.pragma('journal_mode', { simple: true })).toLowerCase();
  const synchronous = Number(db.pragma('synchronous', { simple: true }));
  if (db.memory || journal !== 'wal' || synchronous >= 2) return undefined;
  let entry = shared.get(db);
  if (entry === undefined) {
    entry = { walSync: new WalSync(db), users: 0 };
    shared.set(db, entry);
  }
  entry.users++;
  const { walSync } = entry;
  let released = false;
  return {
    sync: () => walSync.sync(),
    close: async () => {
      if (released) return;
      released = true;
      if (--entry.users > 0) return;
      shared.delete(db);
      await walSync.close();
    },
  };
}
