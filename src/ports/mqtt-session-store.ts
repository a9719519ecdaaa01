/** One subscription of a persistent MQTT session: the topic filter as the client sent it, and the QoS granted. */
export interface MqttSubscriptionRecord {
  topic: string;
  qos: 0 | 1;
}

export interface MqttSessionRecord {
  clientId: string;
  subscriptions: MqttSubscriptionRecord[];
  /** Milliseconds since the Unix epoch: the `now` of the last save. */
  updatedAt: number;
}

/**
 * The sessions of MQTT clients that connect with CleanSession=0 (MQTT 3.1.1 §3.1.2.4), kept between their
 * connections: the Node SDK does not subscribe again after a token-renewal reconnect, so the hub must remember.
 * Every adapter passes test/contract/mqtt-session-store.contract.ts.
 *
 * - Sessions are keyed by the exact client id (case-sensitive, compared byte for byte).
 * - `save` creates or replaces the whole session; `load` returns its subscriptions in the order saved, or
 *   undefined when the client has no session (never saved, or removed).
 * - `remove` resolves true when it removed a session and false when there was none; it is never an error.
 * - `now` is milliseconds since the Unix epoch and becomes `updatedAt`.
 * - `close` releases what the store itself opened; a store on a database it was given leaves the database open.
 */
export interface MqttSessionStore {
  load(clientId: string): Promise<MqttSessionRecord | undefined>;
  save(clientId: string, subscriptions: readonly MqttSubscriptionRecord[], now: number): Promise<void>;
  remove(clientId: string): Promise<boolean>;
  close(): Promise<void>;
}
