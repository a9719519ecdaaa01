import type { SqliteDatabase } from './database.js';

/** A row of telemetry_batches; telemetry-batch-rows.ts tells how payload and layout hold its events. */
export interface BatchRow {
  first_sequence: number;
  last_sequence: number;
  enqueued_time: number;
  partition_key: string | null;
  payload: Buffer;
  layout: Buffer | null;
}

export interface PartitionRow {
  partition: number;
  next_sequence: number;
  bytes: number;
  last_enqueued_time: number;
}

export type RowSpan = Pick<BatchRow, 'first_sequence' | 'last_sequence' | 'enqueued_time'>;

export interface RetentionRow extends RowSpan {
  size: number;
}

/**
 * Every statement of the SQLite telemetry log, prepared once per connection. Rows are found by (partition,
 * first_sequence), the primary key; a row spans first_sequence..last_sequence, and a partition's rows follow each
 * other without gaps.
 */
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
    insertRow: db.prepare<[number, number, number, number, string | null, Buffer, Buffer | null]>(
      `INSERT INTO telemetry_batches (partition, first_sequence, last_sequence, enqueued_time, partition_key, payload, layout)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    // The row holding `from` and the rows after it that start before from + max; `from` is a retained sequence
    // number or the next one. Readers at the end of the log land on the last row, which ends before `from`: it is
    // filtered out before its payload is read.
    readRows: db.prepare<{ partition: number; from: number; max: number }, BatchRow>(
      `SELECT first_sequence, last_sequence, enqueued_time, partition_key, payload, layout FROM telemetry_batches
       WHERE partition = :partition
         AND first_sequence >= coalesce(
           (SELECT first_sequence FROM telemetry_batches
            WHERE partition = :partition AND first_sequence <= :from ORDER BY first_sequence DESC LIMIT 1), :from)
         AND first_sequence < :from + :max
         AND last_sequence >= :from
       ORDER BY first_sequence`,
    ),
    selectFirstSequence: db
      .prepare<[number], number>('SELECT first_sequence FROM telemetry_batches WHERE partition = ? ORDER BY first_sequence LIMIT 1')
      .pluck(),
    /** The row holding a sequence number, if it is retained. */
    selectSpan: db.prepare<[number, number], RowSpan>(
      `SELECT first_sequence, last_sequence, enqueued_time FROM telemetry_batches
       WHERE partition = ? AND first_sequence <= ? ORDER BY first_sequence DESC LIMIT 1`,
    ),
    // length() of a BLOB is read from the record header, without loading the payload.
    selectOldest: db.prepare<[number, number, number], RetentionRow>(
      `SELECT first_sequence, last_sequence, enqueued_time, length(payload) AS size FROM telemetry_batches
       WHERE partition = ? AND first_sequence >= ? ORDER BY first_sequence LIMIT ?`,
    ),
    selectRow: db.prepare<[number, number], BatchRow>(
      `SELECT first_sequence, last_sequence, enqueued_time, partition_key, payload, layout FROM telemetry_batches
       WHERE partition = ? AND first_sequence = ?`,
    ),
    deleteRows: db.prepare<[number, number, number]>(
      'DELETE FROM telemetry_batches WHERE partition = ? AND first_sequence >= ? AND first_sequence < ?',
    ),
    /** Rewrites a row without its first events: it then starts at a later sequence number. */
    trimRow: db.prepare<[number, Buffer, Buffer | null, number, number]>(
      'UPDATE telemetry_batches SET first_sequence = ?, payload = ?, layout = ? WHERE partition = ? AND first_sequence = ?',
    ),
  };
}

export type TelemetryStatements = ReturnType<typeof prepareTelemetryStatements>;
