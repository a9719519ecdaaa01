import type { ConsumerGroupStore } from '../../ports/consumer-group-store.js';

/** ConsumerGroupStore in memory, for unit tests and as the contract suite's reference. Names fold case. */
export class MemoryConsumerGroupStore implements ConsumerGroupStore {
  readonly #groups = new Map<string, { name: string; createdAt: string }>();

  async list(): Promise<Array<{ name: string; createdAt: string }>> {
    return [...this.#groups.values()].map((g) => ({ ...g }));
  }

  async create(name: string, createdAt: string): Promise<boolean> {
    const key = name.toLowerCase();
    if (this.#groups.has(key)) return false;
    this.#groups.set(key, { name, createdAt });
    return true;
  }

  async delete(name: string): Promise<boolean> {
    return this.#groups.delete(name.toLowerCase());
  }

  async exists(name: string): Promise<boolean> {
    return this.#groups.has(name.toLowerCase());
  }
}
