interface Pending<T, R> {
  item: T;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions<T, R> {
  /** Writes a batch durably, all or nothing, synchronously; returns one result per item, in order. */
  commit(items: readonly T[]): R[];
  /** Runs after a batch committed and its promises were settled. */
  committed(results: readonly R[]): void;
  maxBatch: number;
}

/**
 * Group commit: items submitted by any number of callers wait in memory and one writer commits them in batches.
 * Each submit's promise settles with its batch, in submission order.
 *
 * The batch is committed from setImmediate: after every I/O callback of the current event-loop turn had its
 * chance to submit. The commit (and its fsync) blocks the loop; what arrives meanwhile is read in the next turn and
 * makes the next batch, so the batch size follows the load: one append per commit when idle, hundreds under load,
 * and no delay added. Measured (2 cores, 300-byte appends, 200 TCP connections with 4 appends in flight each,
 * acknowledged after the append resolved): setImmediate 75-115k acks/s; process.nextTick commits after each socket
 * read, 4 appends per commit, 25k/s; a 1 ms timer about as fast as setImmediate under load, but a lone caller
 * waits 1.3 ms instead of 0.1 ms per append (600/s instead of 7,600/s). `maxBatch` bounds how long one commit
 * keeps the loop from its sockets; the rest of the queue is committed in the next turn.
 */
export class GroupCommit<T, R> {
  readonly #options: GroupCommitOptions<T, R>;
  #queue: Array<Pending<T, R>> = [];
  #scheduled: NodeJS.Immediate | undefined;

  constructor(options: GroupCommitOptions<T, R>) {
    this.#options = options;
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Commits everything queued now, synchronously (used by close). */
  drain(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    while (this.#queue.length > 0) this.#commitBatch();
  }

  #flush(): void {
    this.#scheduled = undefined;
    this.#commitBatch();
    if (this.#queue.length > 0) this.#schedule();
  }

  #schedule(): void {
    this.#scheduled ??= setImmediate(() => this.#flush());
  }

  #commitBatch(): void {
    const { maxBatch } = this.#options;
    let batch = this.#queue;
    if (batch.length <= maxBatch) {
      this.#queue = [];
    } else {
      batch = batch.slice(0, maxBatch);
      this.#queue = this.#queue.slice(maxBatch);
    }
    let results: R[];
    try {
      results = this.#options.commit(batch.map((p) => p.item));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
    this.#options.committed(results);
  }
}
