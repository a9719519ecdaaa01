import type { MqttSessionStore, MqttSubscriptionRecord } from '../../ports/mqtt-session-store.js';
import type { SubscriptionKind } from './subscription-filters.js';

export interface Subscription {
  /** The filter as the client spelled it. */
  topic: string;
  qos: 0 | 1;
}

/**
 * The subscriptions of one connection, by kind: what C2D, twin and method delivery look at to decide whether and
 * at which QoS to publish to this client. A persistent session (CleanSession=0) writes every change to the store,
 * one write after another, so the stored state is always the latest.
 */
export class MqttSession {
  readonly #subscriptions = new Map<SubscriptionKind, Subscription>();
  #writes: Promise<void> = Promise.resolve();

  constructor(
    readonly clientId: string,
    /** CleanSession=0: kept in the store beyond this connection. */
    readonly persistent: boolean,
    private readonly store: MqttSessionStore,
    private readonly now: () => number,
  ) {}

  has(kind: SubscriptionKind): boolean {
    return this.#subscriptions.has(kind);
  }

  get(kind: SubscriptionKind): Subscription | undefined {
    return this.#subscriptions.get(kind);
  }

  kinds(): SubscriptionKind[] {
    return [...this.#subscriptions.keys()];
  }

  set(kind: SubscriptionKind, subscription: Subscription): void {
    this.#subscriptions.set(kind, subscription);
  }

  delete(kind: SubscriptionKind): void {
    this.#subscriptions.delete(kind);
  }

  records(): MqttSubscriptionRecord[] {
    return [...this.#subscriptions.values()].map((s) => ({ topic: s.topic, qos: s.qos }));
  }

  /** Stores the current subscriptions of a persistent session; resolves once they (and every earlier change) are. */
  save(): Promise<void> {
    if (!this.persistent) return Promise.resolve();
    const write = this.#writes.then(() => this.store.save(this.clientId, this.records(), this.now()));
    this.#writes = write.catch(() => undefined);
    return write;
  }
}
