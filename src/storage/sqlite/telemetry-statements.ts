import type { SqliteDatabase } from './database.js';

export interface EventRow {
  sequence: number;
  enqueued_time: number;
  partition_key: string | null;
  payload: Buffer;
}

export interface PartitionRow {
  partition: number;
  next_sequence: number;
  bytes: number;
  last_enqueued_time: number;
}

export interface RetentionRow {
  sequence: number;
  enqueued_time: number;
  size: number;
}

/** Every statement of the SQLite telemetry log, prepared once per connection. Events are found by (partition, sequence). */
export function prepareTelemetryStatements(db: SqliteDatabase) {
  return {
    selectPartitionCount: db.prepare<[], number>(`SELECT value FROM telemetry_meta WHERE key = 'partition_count'`).pluck(),
    insertPartitionCount: db.prepare<[number]>(`INSERT INTO telemetry_meta (key, value) VALUES ('partition_count', ?)`),
    insertPartition: db.prepare<[number]>(
      'INSERT INTO telemetry_partitions (partition, next_sequence, bytes, last_enqueued_time) VALUES (?, 0, 0, 0)',
    ),
    selectPartitions: db.prepare<[], PartitionRow>(
      'SELECT partition, next_sequence, bytes, last_enqueued_time FROM telemetry_partitions ORDER BY partition',
    ),
    updatePartition: db.prepare<[number, number, number, number]>(
      'UPDATE telemetry_partitions SET next_sequence = ?, bytes = ?, last_enqueued_time = ? WHERE partition = ?',
    ),
    updatePartitionBytes: db.prepare<[number, number]>('UPDATE telemetry_partitions SET bytes = ? WHERE partition = ?'),
    insertEvent: db.prepare<[number, number, number, string | null, Buffer]>(
      'INSERT INTO telemetry_events (partition, sequence, enqueued_time, partition_key, payload) VALUES (?, ?, ?, ?, ?)',
    ),
    readEvents: db.prepare<[number, number, number], EventRow>(
      `SELECT sequence, enqueued_time, partition_key, payload FROM telemetry_events
       WHERE partition = ? AND sequence >= ? ORDER BY sequence LIMIT ?`,
    ),
    selectFirstSequence: db
      .prepare<[number], number>('SELECT sequence FROM telemetry_events WHERE partition = ? ORDER BY sequence LIMIT 1')
      .pluck(),
    selectEnqueuedTime: db
      .prepare<[number, number], number>('SELECT enqueued_time FROM telemetry_events WHERE partition = ? AND sequence = ?')
      .pluck(),
    // length() of a BLOB is read from the record header, without loading the payload.
    selectOldest: db.prepare<[number, number, number], RetentionRow>(
      `SELECT sequence, enqueued_time, length(payload) AS size FROM telemetry_events
       WHERE partition = ? AND sequence >= ? ORDER BY sequence LIMIT ?`,
    ),
    deleteRange: db.prepare<[number, number, number]>(
      'DELETE FROM telemetry_events WHERE partition = ? AND sequence >= ? AND sequence < ?',
    ),
  };
}

export type TelemetryStatements = ReturnType<typeof prepareTelemetryStatements>;
