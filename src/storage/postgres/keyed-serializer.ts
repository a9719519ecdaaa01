/**
 * Runs tasks one after another per key, in the order they were handed in; tasks of different keys run
 * concurrently. A task's failure does not stop the tasks queued behind it.
 */
export class KeyedSerializer {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves once every task handed in so far has finished. */
  async drain(): Promise<void> {
    await Promise.all(this.#tails.values());
  }
}
