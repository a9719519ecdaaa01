import type { Migration } from './migrations.js';

/**
 * The schema of the telemetry database (`<dataDir>/telemetry.db`), kept apart from the registry database so that
 * the log's write lock and fsyncs never hold up registry writes. Append new steps at the end.
 */
export const telemetryMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'telemetry log',
    // telemetry_partitions keeps what must survive retention removing every event: the next sequence number (never
    // reused) and the last enqueued time (never goes back), plus the payload byte total that size retention needs.
    // Events keep a rowid: appends then add to the table's last page, and the (partition, sequence) key is a small
    // index. WITHOUT ROWID measured no faster and stores large payloads badly.
    sql: `
      CREATE TABLE telemetry_meta (
        key   TEXT NOT NULL PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE telemetry_partitions (
        partition          INTEGER NOT NULL PRIMARY KEY,
        next_sequence      INTEGER NOT NULL,
        bytes              INTEGER NOT NULL,
        last_enqueued_time INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE telemetry_events (
        partition     INTEGER NOT NULL,
        sequence      INTEGER NOT NULL,
        enqueued_time INTEGER NOT NULL,
        partition_key TEXT,
        payload       BLOB NOT NULL,
        PRIMARY KEY (partition, sequence)
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'telemetry batch rows',
    // One row per group-commit batch and partition instead of one per event: the per-row INSERT was the log's main
    // cost. A row holds consecutive events sharing the enqueued time and partition key (telemetry-batch-rows.ts).
    // Rows keep a rowid. WITHOUT ROWID measured slower (490-byte events, 50 per row: appends 6.3 against 4.5 µs of
    // CPU per event, a read at the end of the log 105 against 5 µs): its rows are cells of the key's b-tree, and a
    // seek that compares the key with a cell that overflows reads the cell's whole record, payload included.
    // Existing events become one-event rows, keeping their sequence numbers and times.
    sql: `
      CREATE TABLE telemetry_batches (
        partition      INTEGER NOT NULL,
        first_sequence INTEGER NOT NULL,
        last_sequence  INTEGER NOT NULL,
        enqueued_time  INTEGER NOT NULL,
        partition_key  TEXT,
        payload        BLOB NOT NULL,
        layout         BLOB,
        PRIMARY KEY (partition, first_sequence)
      ) STRICT;

      INSERT INTO telemetry_batches (partition, first_sequence, last_sequence, enqueued_time, partition_key, payload, layout)
        SELECT partition, sequence, sequence, enqueued_time, partition_key, payload, NULL
        FROM telemetry_events ORDER BY partition, sequence;

      DROP TABLE telemetry_events;
    `,
  },
];
