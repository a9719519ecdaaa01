import type { SqliteDatabase } from './database.js';
import { GroupCommit } from './telemetry-group-commit.js';

type Write = () => unknown;
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Group commit of arbitrary writes on one database: the writes submitted in one event-loop turn run in order in ONE
 * IMMEDIATE transaction (one fsync), and each promise settles once that transaction committed (see GroupCommit).
 * Each write runs in its own SAVEPOINT, so a write that throws is rolled back and rejects alone; the others of its
 * batch commit. Should SQLite itself roll the whole transaction back (disk full, I/O error), the batch fails whole.
 */
export class TransactionGroupCommit {
  readonly #writer: GroupCommit<Write, Outcome>;
  #closed = false;

  constructor(db: SqliteDatabase, maxBatch: number) {
    // better-sqlite3 runs a transaction function called inside another transaction as a savepoint.
    const inSavepoint = db.transaction((write: Write) => write());
    const commitAll = db.transaction((writes: readonly Write[]) =>
      writes.map((write): Outcome => {
        try {
          return { ok: true, value: inSavepoint(write) };
        } catch (error) {
          if (!db.inTransaction) throw error;
          return { ok: false, error };
        }
      }),
    );
    this.#writer = new GroupCommit<Write, Outcome>({ commit: (writes) => commitAll.immediate(writes), committed: () => {}, maxBatch });
  }

  /** Runs `write` (synchronous SQLite work) in the next batch; resolves what it returned, once committed. */
  async run<T>(write: () => T): Promise<T> {
    if (this.#closed) throw new Error('the store is closed');
    const outcome = await this.#writer.submit(write);
    if (!outcome.ok) throw outcome.error;
    return outcome.value as T;
  }

  /** Commits what is queued, synchronously; later writes are refused. */
  close(): void {
    this.#closed = true;
    this.#writer.drain();
  }
}
