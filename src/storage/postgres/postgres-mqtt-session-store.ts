import type { MqttSessionRecord, MqttSessionStore, MqttSubscriptionRecord } from '../../ports/mqtt-session-store.js';
import type { PostgresDatabase } from './database.js';

/** An mqtt_sessions row; pg parses the json column, a fresh copy per query. */
interface SessionRow {
  client_id: string;
  subscriptions: unknown;
  updated_at: number;
}

const SQL = {
  select: 'SELECT client_id, subscriptions, updated_at FROM mqtt_sessions WHERE client_id = $1',
  upsert: `
    INSERT INTO mqtt_sessions (client_id, subscriptions, updated_at) VALUES ($1, $2, $3)
    ON CONFLICT (client_id) DO UPDATE SET subscriptions = excluded.subscriptions, updated_at = excluded.updated_at`,
  delete: 'DELETE FROM mqtt_sessions WHERE client_id = $1',
};

/**
 * MqttSessionStore on the `mqtt_sessions` table (migration 4) of a PostgresDatabase. Each call is one statement;
 * save is an upsert, so concurrent saves of one client leave one whole session. The pool belongs to whoever opened
 * it; close() leaves it open.
 */
export class PostgresMqttSessionStore implements MqttSessionStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async load(clientId: string): Promise<MqttSessionRecord | undefined> {
    const { rows } = await this.#db.query<SessionRow>(SQL.select, [clientId]);
    const row = rows[0];
    if (row === undefined) return undefined;
    return { clientId: row.client_id, subscriptions: parseSubscriptions(row), updatedAt: row.updated_at };
  }

  async save(clientId: string, subscriptions: readonly MqttSubscriptionRecord[], now: number): Promise<void> {
    if (!Number.isSafeInteger(now)) throw new TypeError(`mqtt session save: now must be a safe integer, got ${now}`);
    const json = JSON.stringify(subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })));
    await this.#db.query(SQL.upsert, [clientId, json, now]);
  }

  async remove(clientId: string): Promise<boolean> {
    return (await this.#db.query(SQL.delete, [clientId])).rowCount > 0;
  }

  async close(): Promise<void> {}
}

function parseSubscriptions(row: SessionRow): MqttSubscriptionRecord[] {
  const value = row.subscriptions;
  const valid =
    Array.isArray(value) &&
    value.every((s: { topic?: unknown; qos?: unknown }) => typeof s?.topic === 'string' && (s.qos === 0 || s.qos === 1));
  if (!valid) throw new Error(`mqtt_sessions row of client ${row.client_id} does not hold a list of {topic, qos}`);
  return (value as MqttSubscriptionRecord[]).map((s) => ({ topic: s.topic, qos: s.qos }));
}
