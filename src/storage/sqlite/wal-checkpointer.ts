import { Worker } from 'node:worker_threads';
import type { SqliteDatabase } from './database.js';
import type { CheckpointWorkerData } from './wal-checkpoint-worker.js';

const WORKER = new URL('./wal-checkpoint-worker.js', import.meta.url);
/** SQLite's own auto-checkpoint threshold, restored when the worker cannot run. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

export interface WalCheckpointerOptions {
  /** How often the worker checkpoints what was written since its last pass. */
  intervalMs?: number;
  /** WAL pages (4 KiB) above which a checkpoint holds the writer off briefly so that the WAL starts over. */
  restartPages?: number;
}

/**
 * Moves a connection's WAL checkpoints off its event loop. SQLite checkpoints inside the commit that takes the WAL
 * past 1,000 pages: it copies them into the database and fsyncs the WAL and the database, on the thread that
 * committed. Under a telemetry load that was half the cost of an append (`npm run bench -- log`). This turns the
 * connection's auto-checkpoint off and checkpoints from a worker thread on a connection of its own. Should the
 * worker fail, the connection checkpoints for itself again: never a WAL that grows without end.
 */
export class WalCheckpointer {
  readonly #db: SqliteDatabase;
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #handedOver = false;

  constructor(db: SqliteDatabase, options: WalCheckpointerOptions = {}) {
    this.#db = db;
    const data: CheckpointWorkerData = { file: db.name, intervalMs: options.intervalMs ?? 50, restartPages: options.restartPages ?? 8192 };
    this.#worker = new Worker(WORKER, { workerData: data });
    this.#worker.unref();
    // The worker's one message says its connection is open. A worker that fails stops, and its exit (like an uncaught
    // error) hands the checkpoints back.
    this.#worker.once('message', () => this.#handOver());
    this.#worker.on('error', () => this.#takeBack());
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    void this.#exited.then(() => this.#takeBack());
  }

  /** True while the worker checkpoints and the connection does not. */
  get active(): boolean {
    return this.#handedOver;
  }

  /** Stops the worker; the connection checkpoints for itself again (and on close, as SQLite does). */
  async close(): Promise<void> {
    this.#worker.ref(); // the wait for its exit keeps the process alive
    this.#worker.postMessage('stop');
    await this.#exited;
  }

  #handOver(): void {
    if (!this.#db.open) return;
    this.#db.pragma('wal_autocheckpoint = 0');
    this.#handedOver = true;
  }

  #takeBack(): void {
    if (!this.#handedOver) return;
    this.#handedOver = false;
    if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
  }
}
