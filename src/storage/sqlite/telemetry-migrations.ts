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
];
