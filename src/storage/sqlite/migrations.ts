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
  {
    version: 4,
    name: 'c2d queues',
    // Cloud-to-device queues. A target is (device_id, module_id); module_id is '' for the device's own queue (module
    // ids are never empty), which keeps it in the primary keys. c2d_queues holds each target's last sequence number:
    // it outlives purges and emptied queues, so numbers are never reused, and goes with dropDevice. Messages are
    // found by (target, sequence_number) through the primary key, which also orders a queue for lockNext. Content
    // is a BLOB body and the properties as JSON objects. Times are milliseconds since the Unix epoch; the lock
    // columns are both NULL or both set. Feedback records wait in c2d_feedback_records (id gives their order) until
    // sealed into a batch, which holds them as a JSON array; batches are taken oldest first by seq.
    sql: `
      CREATE TABLE c2d_queues (
        device_id     TEXT NOT NULL COLLATE BINARY,
        module_id     TEXT NOT NULL COLLATE BINARY,
        last_sequence INTEGER NOT NULL,
        PRIMARY KEY (device_id, module_id)
      ) STRICT;

      CREATE TABLE c2d_messages (
        device_id              TEXT NOT NULL COLLATE BINARY,
        module_id              TEXT NOT NULL COLLATE BINARY,
        sequence_number        INTEGER NOT NULL,
        ack                    TEXT NOT NULL CHECK (ack IN ('none', 'positive', 'negative', 'full')),
        generation_id          TEXT NOT NULL,
        enqueued_time          INTEGER NOT NULL,
        expiry_time            INTEGER NOT NULL,
        delivery_count         INTEGER NOT NULL,
        lock_token             TEXT,
        locked_until           INTEGER,
        body                   BLOB NOT NULL,
        properties             TEXT NOT NULL,
        application_properties TEXT NOT NULL,
        PRIMARY KEY (device_id, module_id, sequence_number),
        CHECK ((lock_token IS NULL) = (locked_until IS NULL))
      ) STRICT;
      CREATE INDEX c2d_messages_lock_token ON c2d_messages (lock_token) WHERE lock_token IS NOT NULL;
      CREATE INDEX c2d_messages_expiry ON c2d_messages (expiry_time);

      CREATE TABLE c2d_feedback_records (
        id                   INTEGER PRIMARY KEY,
        original_message_id  TEXT NOT NULL,
        enqueued_time_utc    TEXT NOT NULL,
        status_code          TEXT NOT NULL,
        description          TEXT NOT NULL,
        device_id            TEXT NOT NULL,
        device_generation_id TEXT NOT NULL
      ) STRICT;

      CREATE TABLE c2d_feedback_batches (
        seq            INTEGER PRIMARY KEY,
        batch_id       TEXT NOT NULL UNIQUE,
        records        TEXT NOT NULL,
        enqueued_time  INTEGER NOT NULL,
        delivery_count INTEGER NOT NULL,
        lock_token     TEXT,
        locked_until   INTEGER,
        CHECK ((lock_token IS NULL) = (locked_until IS NULL))
      ) STRICT;
      CREATE INDEX c2d_feedback_batches_lock_token ON c2d_feedback_batches (lock_token) WHERE lock_token IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'twins',
    // Device and module twins, one row per target; module_id is '' for the device's own twin (module ids are never
    // empty), as in the C2D tables, so the primary key gives the (device_id, module_id) order that list pages in.
    // version is the twin's etag counter, the compare-and-swap of put. The documents are JSON text exactly as
    // JSON.stringify wrote them (TEXT, not JSONB, so key order and number spelling survive). No foreign key to
    // devices: the service deletes a device's twins itself.
    sql: `
      CREATE TABLE twins (
        device_id         TEXT NOT NULL COLLATE BINARY,
        module_id         TEXT NOT NULL COLLATE BINARY,
        version           INTEGER NOT NULL,
        tags              TEXT NOT NULL,
        desired           TEXT NOT NULL,
        desired_version   INTEGER NOT NULL,
        desired_metadata  TEXT NOT NULL,
        reported          TEXT NOT NULL,
        reported_version  INTEGER NOT NULL,
        reported_metadata TEXT NOT NULL,
        PRIMARY KEY (device_id, module_id)
      ) STRICT;
    `,
  },
];
