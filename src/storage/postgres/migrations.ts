/** One schema step. Versions are positive integers in strictly increasing order; never edit an applied step. */
export interface PostgresMigration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The PostgreSQL schema, in order; append new steps at the end. It mirrors the SQLite schema (storage/sqlite/
 * migrations.ts) with these differences:
 * - Ids are `COLLATE "C"`: byte order and case-sensitive equality whatever the database's default collation, so
 *   pages come in the binary order the ports promise and the primary keys serve them.
 * - Documents are `json`, not `jsonb`: json keeps the text exactly as JSON.stringify wrote it, so key order, duplicate
 *   keys, number spelling (1e21, 5e-324), "\u0000" and lone surrogates round-trip. jsonb reorders and dedups keys,
 *   rewrites numbers, and refuses "\u0000" and lone surrogates outright. Where SQL must look inside a document
 *   (twin queries) a separate jsonb copy is kept for that (see migration 3).
 * - Times (ms since the epoch), versions and sequence numbers are bigint.
 */
export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'registry',
    sql: `
      CREATE TABLE devices (
        device_id           text COLLATE "C" PRIMARY KEY,
        generation_id       text NOT NULL,
        version             bigint NOT NULL,
        status              text NOT NULL CHECK (status IN ('enabled', 'disabled')),
        status_reason       text,
        status_updated_time text NOT NULL,
        authentication      json NOT NULL,
        capabilities        json NOT NULL,
        device_scope        text,
        parent_scopes       json NOT NULL
      );

      CREATE TABLE modules (
        device_id      text COLLATE "C" NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
        module_id      text COLLATE "C" NOT NULL,
        generation_id  text NOT NULL,
        version        bigint NOT NULL,
        managed_by     text,
        authentication json NOT NULL,
        PRIMARY KEY (device_id, module_id)
      );
    `,
  },
  {
    version: 2,
    name: 'c2d queues',
    // As SQLite's migration 4: a target is (device_id, module_id) with module_id '' for the device's own queue;
    // c2d_queues holds each target's last sequence number, and its row is also the lock enqueues of one target take
    // turns on. A feedback record is one json document (the FeedbackRecord), in id order; a batch holds them as a
    // json array.
    sql: `
      CREATE TABLE c2d_queues (
        device_id     text COLLATE "C" NOT NULL,
        module_id     text COLLATE "C" NOT NULL,
        last_sequence bigint NOT NULL,
        PRIMARY KEY (device_id, module_id)
      );

      CREATE TABLE c2d_messages (
        device_id              text COLLATE "C" NOT NULL,
        module_id              text COLLATE "C" NOT NULL,
        sequence_number        bigint NOT NULL,
        ack                    text NOT NULL CHECK (ack IN ('none', 'positive', 'negative', 'full')),
        generation_id          text NOT NULL,
        enqueued_time          bigint NOT NULL,
        expiry_time            bigint NOT NULL,
        delivery_count         integer NOT NULL,
        lock_token             text,
        locked_until           bigint,
        body                   bytea NOT NULL,
        properties             json NOT NULL,
        application_properties json NOT NULL,
        PRIMARY KEY (device_id, module_id, sequence_number),
        CHECK ((lock_token IS NULL) = (locked_until IS NULL))
      );
      CREATE INDEX c2d_messages_lock_token ON c2d_messages (lock_token) WHERE lock_token IS NOT NULL;
      CREATE INDEX c2d_messages_expiry ON c2d_messages (expiry_time);

      CREATE TABLE c2d_feedback_records (
        id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        record json NOT NULL
      );

      CREATE TABLE c2d_feedback_batches (
        seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        batch_id       text NOT NULL UNIQUE,
        records        json NOT NULL,
        enqueued_time  bigint NOT NULL,
        delivery_count integer NOT NULL,
        lock_token     text,
        locked_until   bigint,
        CHECK ((lock_token IS NULL) = (locked_until IS NULL))
      );
      CREATE INDEX c2d_feedback_batches_lock_token ON c2d_feedback_batches (lock_token) WHERE lock_token IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'twins',
    // As SQLite's migration 5: one row per target, module_id '' for the device's own twin, version the etag counter
    // that put compares and swaps. The json columns are the documents as stored and returned. The *_query columns are
    // jsonb copies of tags and of the desired and reported properties for the query language to compile to (tags.x,
    // properties.desired.x, properties.reported.x), GIN-indexed for containment (@>) and path (@?, @@) tests. jsonb
    // cannot hold "\u0000" or lone surrogates, so in these copies (only) such characters are U+FFFD.
    sql: `
      CREATE TABLE twins (
        device_id         text COLLATE "C" NOT NULL,
        module_id         text COLLATE "C" NOT NULL,
        version           bigint NOT NULL,
        tags              json NOT NULL,
        desired           json NOT NULL,
        desired_version   bigint NOT NULL,
        desired_metadata  json NOT NULL,
        reported          json NOT NULL,
        reported_version  bigint NOT NULL,
        reported_metadata json NOT NULL,
        tags_query        jsonb NOT NULL,
        desired_query     jsonb NOT NULL,
        reported_query    jsonb NOT NULL,
        PRIMARY KEY (device_id, module_id)
      );
      CREATE INDEX twins_tags_query ON twins USING gin (tags_query);
      CREATE INDEX twins_desired_query ON twins USING gin (desired_query);
      CREATE INDEX twins_reported_query ON twins USING gin (reported_query);
    `,
  },
  {
    version: 4,
    name: 'mqtt sessions',
    // As SQLite's migration 2: the subscriptions of clean-session-off MQTT clients, a json array of {topic, qos} in
    // the order saved. updated_at is ms since the epoch.
    sql: `
      CREATE TABLE mqtt_sessions (
        client_id     text COLLATE "C" PRIMARY KEY,
        subscriptions json NOT NULL,
        updated_at    bigint NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'consumer groups',
    // As SQLite's migration 3: names compare case-insensitively, so the key is the unique index on lower(name), and
    // the name is kept as first spelled. name is COLLATE "C" so lower() folds ASCII only (as SQLite's NOCASE), not
    // per the database's locale; queries must fold their argument under "C" too to use the index and agree with it.
    // created_at is the ISO 8601 text the caller gave. $Default always exists and has no row.
    sql: `
      CREATE TABLE consumer_groups (
        name       text COLLATE "C" NOT NULL,
        created_at text NOT NULL
      );
      CREATE UNIQUE INDEX consumer_groups_lower_name ON consumer_groups (lower(name));
    `,
  },
  {
    version: 6,
    name: 'presence',
    // Which node holds which identity's connection (PresenceStore). Leases are the database's clock (now()), so nodes'
    // clocks never decide whether a lease ran out; since is the node's ms timestamp of the connection's start or end.
    // The partial index serves the sweep of a dead node's live entries.
    sql: `
      CREATE TABLE presence_leases (
        node        text COLLATE "C" PRIMARY KEY,
        lease_until timestamptz NOT NULL
      );
      CREATE TABLE presence (
        identity  text COLLATE "C" PRIMARY KEY,
        node      text COLLATE "C" NOT NULL,
        connected boolean NOT NULL,
        since     bigint NOT NULL
      );
      CREATE INDEX presence_connected_node ON presence (node) WHERE connected;
    `,
  },
];
