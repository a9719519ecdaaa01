import type { MqttSessionRecord, MqttSessionStore, MqttSubscriptionRecord } from '../../ports/mqtt-session-store.js';

/** MqttSessionStore in memory: sessions last as long as the process. Returns copies, so callers share nothing. */
export class MemoryMqttSessionStore implements MqttSessionStore {
  readonly #sessions = new Map<string, MqttSessionRecord>();

  async load(clientId: string): Promise<MqttSessionRecord | undefined> {
    const session = this.#sessions.get(clientId);
    return session === undefined ? undefined : copy(session);
  }

  async save(clientId: string, subscriptions: readonly MqttSubscriptionRecord[], now: number): Promise<void> {
    this.#sessions.set(clientId, copy({ clientId, subscriptions: [...subscriptions], updatedAt: now }));
  }

  async remove(clientId: string): Promise<boolean> {
    return this.#sessions.delete(clientId);
  }

  async close(): Promise<void> {
    this.#sessions.clear();
  }
}

function copy(session: MqttSessionRecord): MqttSessionRecord {
  return { ...session, subscriptions: session.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })) };
}
