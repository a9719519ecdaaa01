import type { MqttSessionRecord, MqttSessionStore, MqttSubscriptionRecord } from '../../ports/mqtt-session-store.js';
import type { SqliteDatabase } from './database.js';

interface SessionRow {
  client_id: string;
  subscriptions: string;
  updated_at: string;
}

/**
 * MqttSessionStore on the `mqtt_sessions` table (migration 2) of a database opened by openSqliteDatabase. The
 * database belongs to whoever opened it: close() leaves it open.
 */
export class SqliteMqttSessionStore implements MqttSessionStore {
  readonly #select;
  readonly #upsert;
  readonly #delete;

  constructor(db: SqliteDatabase) {
    this.#select = db.prepare<[string], SessionRow>('SELECT client_id, subscriptions, updated_at FROM mqtt_sessions WHERE client_id = ?');
    this.#upsert = db.prepare<[string, string, string]>(
      `INSERT INTO mqtt_sessions (client_id, subscriptions, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET subscriptions = excluded.subscriptions, updated_at = excluded.updated_at`,
    );
    this.#delete = db.prepare<[string]>('DELETE FROM mqtt_sessions WHERE client_id = ?');
  }

  async load(clientId: string): Promise<MqttSessionRecord | undefined> {
    const row = this.#select.get(clientId);
    if (row === undefined) return undefined;
    return { clientId: row.client_id, subscriptions: parseSubscriptions(row), updatedAt: Date.parse(row.updated_at) };
  }

  async save(clientId: string, subscriptions: readonly MqttSubscriptionRecord[], now: number): Promise<void> {
    const json = JSON.stringify(subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })));
    this.#upsert.run(clientId, json, new Date(now).toISOString());
  }

  async remove(clientId: string): Promise<boolean> {
    return this.#delete.run(clientId).changes > 0;
  }

  async close(): Promise<void> {}
}

function parseSubscriptions(row: SessionRow): MqttSubscriptionRecord[] {
  const value: unknown = JSON.parse(row.subscriptions);
  const valid =
    Array.isArray(value) &&
    value.every((s: { topic?: unknown; qos?: unknown }) => typeof s?.topic === 'string' && (s.qos === 0 || s.qos === 1));
  if (!valid) throw new Error(`mqtt_sessions row of client ${row.client_id} does not hold a list of {topic, qos}`);
  return value as MqttSubscriptionRecord[];
}
