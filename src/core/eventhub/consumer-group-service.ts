import { HubError } from '../../domain/errors.js';
import type { ConsumerGroupStore } from '../../ports/consumer-group-store.js';
import { DEFAULT_CONSUMER_GROUP, isDefaultConsumerGroup, sameConsumerGroup, validateConsumerGroupName } from './consumer-group-name.js';

export interface ConsumerGroup {
  name: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface ConsumerGroupServiceOptions {
  now?: () => number;
  /** Most groups a hub may have, `$Default` included. IoT Hub allows 20 on its built-in endpoint. */
  maxGroups?: number;
  /** What `list` reports as `$Default`'s creation time. Default: the Unix epoch. */
  defaultCreatedAt?: string;
}

export const DEFAULT_MAX_CONSUMER_GROUPS = 20;

/**
 * The consumer groups of the Event Hub-compatible endpoint. `$Default` always exists and is never stored; other
 * names follow Event Hubs' rules and compare case-insensitively. Errors are HubErrors: ArgumentInvalid for a bad
 * name, for `$Default` in create/delete and past the group limit; NotFound for a group that does not exist.
 */
export class ConsumerGroupService {
  readonly #store: ConsumerGroupStore;
  readonly #now: () => number;
  readonly #maxGroups: number;
  readonly #defaultGroup: ConsumerGroup;

  constructor(store: ConsumerGroupStore, options: ConsumerGroupServiceOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#maxGroups = options.maxGroups ?? DEFAULT_MAX_CONSUMER_GROUPS;
    this.#defaultGroup = { name: DEFAULT_CONSUMER_GROUP, createdAt: options.defaultCreatedAt ?? new Date(0).toISOString() };
  }

  /** `$Default` first, then the created groups by name. */
  async list(): Promise<ConsumerGroup[]> {
    const stored = await this.#store.list();
    stored.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
    return [{ ...this.#defaultGroup }, ...stored];
  }

  async get(name: string): Promise<ConsumerGroup> {
    if (isDefaultConsumerGroup(name)) return { ...this.#defaultGroup };
    const found = (await this.#store.list()).find((g) => sameConsumerGroup(g.name, name));
    if (!found) throw notFound(name);
    return found;
  }

  async exists(name: string): Promise<boolean> {
    return isDefaultConsumerGroup(name) || this.#store.exists(name);
  }

  /**
   * Creates the group, or returns the one that already has that name (in any case) with `created: false`: PUT is
   * idempotent, as in Azure's resource API.
   */
  async create(name: string): Promise<{ group: ConsumerGroup; created: boolean }> {
    validateConsumerGroupName(name);
    const existing = await this.#store.list();
    const same = existing.find((g) => sameConsumerGroup(g.name, name));
    if (same) return { group: same, created: false };
    if (existing.length + 1 >= this.#maxGroups) {
      throw new HubError('ArgumentInvalid', `This hub already has the most consumer groups it allows (${this.#maxGroups}, ${DEFAULT_CONSUMER_GROUP} included)`);
    }
    const group = { name, createdAt: new Date(this.#now()).toISOString() };
    if (await this.#store.create(group.name, group.createdAt)) return { group, created: true };
    // Another request created it between the list and the insert.
    return { group: await this.get(name), created: false };
  }

  async delete(name: string): Promise<void> {
    if (isDefaultConsumerGroup(name)) {
      throw new HubError('ArgumentInvalid', `${DEFAULT_CONSUMER_GROUP} is built in: it cannot be created or deleted`);
    }
    if (!(await this.#store.delete(name))) throw notFound(name);
  }
}

function notFound(name: string): HubError {
  return new HubError('NotFound', `The consumer group "${name}" does not exist`);
}
