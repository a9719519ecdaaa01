import type { MqttSessionRecord, MqttSessionStore, MqttSubscriptionRecord } from '../../ports/mqtt-session-store.js';

/**
 * The session store the adapter uses when the composition root gives it none: sessions last as long as the
 * process. (Protocol adapters may not import storage/, so this is not storage/memory's store.)
 */
export function processSessionStore(): MqttSessionStore {
  const sessions = new Map<string, MqttSessionRecord>();
  return {
    async load(clientId) {
      const s = sessions.get(clientId);
      return s && { ...s, subscriptions: s.subscriptions.map((x) => ({ ...x })) };
    },
    async save(clientId, subscriptions: readonly MqttSubscriptionRecord[], now) {
      sessions.set(clientId, { clientId, subscriptions: subscriptions.map((x) => ({ ...x })), updatedAt: now });
    },
    async remove(clientId) {
      return sessions.delete(clientId);
    },
    async close() {
      sessions.clear();
    },
  };
}
