/** One schema step. Versions are positive integers in strictly increasing order; never edit an applied step. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The schema, in order. Append new steps at the end. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'registry',
    // JSON columns hold the structured fields as the domain types serialise them. TEXT compares with BINARY
    // collation by default; it is spelled out because case-sensitive ids and their order depend on it.
    sql: `
      CREATE TABLE devices (
        device_id           TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
        generation_id       TEXT NOT NULL,
        version             INTEGER NOT NULL,
        status              TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
        status_reason       TEXT,
        status_updated_time TEXT NOT NULL,
        authentication      TEXT NOT NULL,
        capabilities        TEXT NOT NULL,
        device_scope        TEXT,
        parent_scopes       TEXT NOT NULL
      ) STRICT;

      CREATE TABLE modules (
        device_id      TEXT NOT NULL COLLATE BINARY REFERENCES devices (device_id) ON DELETE CASCADE,
        module_id      TEXT NOT NULL COLLATE BINARY,
        generation_id  TEXT NOT NULL,
        version        INTEGER NOT NULL,
        managed_by     TEXT,
        authentication TEXT NOT NULL,
        PRIMARY KEY (device_id, module_id)
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'mqtt sessions',
    // Subscriptions of clean-session-off MQTT clients, keyed by client id: the Node SDK does not subscribe again
    // after a token-renewal reconnect, so the hub must remember them (JSON array of {topic, qos}).
    sql: `
      CREATE TABLE mqtt_sessions (
        client_id     TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
        subscriptions TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'consumer groups',
    // Consumer groups of the Event Hub-compatible endpoint; names compare case-insensitively, as in Event Hubs.
    // $Default always exists and has no row.
    sql: `
      CREATE TABLE consumer_groups (
        name       TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
        created_at TEXT NOT NULL
      ) STRICT;
    `,
  },
];
