import type { PresenceEntry, PresenceStore } from '../../ports/presence-store.js';
import type { PostgresDatabase } from './database.js';

const LIVE_LEASE = 'EXISTS (SELECT 1 FROM presence_leases l WHERE l.node = presence.node AND l.lease_until > now())';

const SQL = {
  renew: `
    WITH before AS (SELECT lease_until > now() AS alive FROM presence_leases WHERE node = $1)
    INSERT INTO presence_leases (node, lease_until) VALUES ($1, now() + make_interval(secs => $2::double precision / 1000))
    ON CONFLICT (node) DO UPDATE SET lease_until = excluded.lease_until
    RETURNING coalesce((SELECT alive FROM before), false) AS alive`,
  hold: `
    INSERT INTO presence (identity, node, connected, since) VALUES ($1, $2, true, $3)
    ON CONFLICT (identity) DO UPDATE SET node = excluded.node, connected = true, since = excluded.since
    WHERE NOT presence.connected OR presence.since <= excluded.since OR NOT ${LIVE_LEASE}`,
  release: 'UPDATE presence SET connected = false, since = $4 WHERE identity = $1 AND node = $2 AND since = $3 AND connected',
  lookup: `
    SELECT p.node, p.connected, p.since, coalesce(l.lease_until > now(), false) AS alive,
           (extract(epoch FROM l.lease_until) * 1000)::bigint AS until
    FROM presence p LEFT JOIN presence_leases l ON l.node = p.node
    WHERE p.identity = $1`,
  sweep: `
    WITH dead AS (
      DELETE FROM presence_leases WHERE lease_until <= now()
      RETURNING node, (extract(epoch FROM lease_until) * 1000)::bigint AS until
    )
    UPDATE presence p SET connected = false, since = dead.until FROM dead WHERE p.node = dead.node AND p.connected`,
  // starts_with, not LIKE: device ids may hold % and _.
  forget: `DELETE FROM presence WHERE identity = $1 OR starts_with(identity, $1 || '/')`,
  end: `
    WITH gone AS (DELETE FROM presence_leases WHERE node = $1)
    UPDATE presence SET connected = false, since = $2 WHERE node = $1 AND connected`,
};

interface LookupRow {
  node: string;
  connected: boolean;
  since: number;
  alive: boolean;
  until: number | null;
}

/** PresenceStore on the `presence` and `presence_leases` tables (migration 6); every call is one statement. */
export class PostgresPresenceStore implements PresenceStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async renewLease(node: string, leaseMs: number): Promise<boolean> {
    const { rows } = await this.#db.query<{ alive: boolean }>(SQL.renew, [node, leaseMs]);
    return rows[0]?.alive === true;
  }

  async hold(key: string, node: string, since: number): Promise<void> {
    await this.#db.query(SQL.hold, [key, node, since]);
  }

  async release(key: string, node: string, since: number, at: number): Promise<void> {
    await this.#db.query(SQL.release, [key, node, since, at]);
  }

  async lookup(key: string): Promise<PresenceEntry | undefined> {
    const { rows } = await this.#db.query<LookupRow>(SQL.lookup, [key]);
    const row = rows[0];
    if (row === undefined) return undefined;
    if (!row.connected || row.alive) return { node: row.node, connected: row.connected, since: row.since };
    // Held by a node whose lease ran out (or never began): it ended when the lease did.
    return { node: row.node, connected: false, since: row.until ?? row.since };
  }

  async sweep(): Promise<number> {
    return (await this.#db.query(SQL.sweep)).rowCount;
  }

  async endLease(node: string, at: number): Promise<void> {
    await this.#db.query(SQL.end, [node, at]);
  }

  async forget(deviceId: string): Promise<void> {
    await this.#db.query(SQL.forget, [deviceId]);
  }

  async close(): Promise<void> {}
}
