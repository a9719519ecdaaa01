import type { Transaction } from 'better-sqlite3';
import type { AppendReceiver, LogAppend, LogEvent, PartitionInfo, RetentionPolicy, StartPosition, TelemetryLog } from '../../ports/telemetry-log.js';
import type { SqliteDatabase } from './database.js';
import { GroupCommit } from './group-commit.js';
import { walSyncFor } from './wal-sync.js';
import { encodeRow, eventLengths, RowBuilder, sliceRow } from './telemetry-batch-rows.js';
import { prepareTelemetryStatements, type TelemetryStatements } from './telemetry-statements.js';

export interface SqliteTelemetryLogOptions {
  /** Fixed when the log is created; opening it again with another count throws. */
  partitionCount: number;
  retention?: RetentionPolicy;
  /** The clock that stamps enqueuedTime. */
  now?: () => number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { maxAgeMs: 86_400_000, maxBytesPerPartition: Number.MAX_SAFE_INTEGER };

/** Appends per commit at most: 15-20 ms of the event loop at 300-byte payloads (about 4 µs each, bench/log.ts). */
const MAX_BATCH = 4096;
/**
 * Events removed per retention transaction (whole rows, so up to a row more), so that appends get the event loop in
 * between.
 */
const RETENTION_CHUNK = 2000;

interface Committed {
  events: LogEvent[];
  changed: Map<number, PartitionState>;
}

interface Removed {
  count: number;
  /** The partition may still hold events that are due: another transaction follows. */
  more: boolean;
}

/** Mirrors the partition's row in telemetry_partitions, plus its first retained sequence number. */
interface PartitionState {
  first: number;
  next: number;
  bytes: number;
  lastTime: number;
}

/**
 * TelemetryLog on a dedicated SQLite database opened with openSqliteDatabase(file, { migrations:
 * telemetryMigrations }) (WAL, synchronous=FULL). Appends go through a group commit: one transaction, and so one
 * fsync, per batch. Sequence numbers are assigned inside the committing transaction, so a failed batch consumes
 * none. Offsets are the sequence numbers in decimal. One log per database file at a time: the partition state is
 * kept in memory and written through.
 */
export class SqliteTelemetryLog implements TelemetryLog {
  readonly partitionCount: number;
  readonly #db: SqliteDatabase;
  readonly #sql: TelemetryStatements;
  readonly #retention: RetentionPolicy;
  readonly #now: () => number;
  readonly #listeners = new Set<(partition: number, lastSequenceNumber: number) => void>();
  readonly #writer: GroupCommit<LogAppend, LogEvent>;
  readonly #insertBatch: Transaction<(entries: readonly LogAppend[]) => Committed>;
  readonly #removeOldest: Transaction<(partition: number, now: number) => Removed>;
  #partitions: PartitionState[];
  /** Set when a write failed: the state is read back from the database before it is used again. */
  #stale = false;
  #closed = false;

  constructor(db: SqliteDatabase, options: SqliteTelemetryLogOptions) {
    const { partitionCount } = options;
    if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
      throw new TypeError(`partitionCount must be a whole number >= 1, not ${partitionCount}`);
    }
    const hasSchema = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'telemetry_batches'`).get();
    if (hasSchema === undefined) {
      throw new TypeError('SqliteTelemetryLog needs its schema: open the database with openSqliteDatabase(file, { migrations: telemetryMigrations })');
    }
    this.partitionCount = partitionCount;
    this.#db = db;
    this.#sql = prepareTelemetryStatements(db);
    this.#retention = options.retention ?? DEFAULT_RETENTION;
    this.#now = options.now ?? Date.now;
    this.#partitions = db.transaction(() => this.#createOrCheck()).immediate();
    this.#insertBatch = db.transaction((entries: readonly LogAppend[]) => this.#insert(entries));
    this.#removeOldest = db.transaction((partition: number, now: number) => this.#remove(partition, now));
    this.#writer = new GroupCommit({
      commit: (entries) => this.#commit(entries),
      committed: (events) => this.#notify(events),
      maxBatch: MAX_BATCH,
      durability: walSyncFor(db),
    });
  }

  append(entry: LogAppend): Promise<LogEvent> {
    return new Promise((resolve, reject) => this.appendTo(entry, { committed: resolve, failed: reject }));
  }

  appendTo(entry: LogAppend, receiver: AppendReceiver): void {
    if (this.#closed) return queueMicrotask(() => receiver.failed(new Error('the telemetry log is closed')));
    try {
      this.#checkPartition(entry.partition);
    } catch (err) {
      return queueMicrotask(() => receiver.failed(err));
    }
    this.#writer.submitTo(entry, receiver);
  }

  async read(partition: number, fromSequenceNumber: number, maxEvents: number): Promise<LogEvent[]> {
    const { first } = this.#state(partition);
    const events: LogEvent[] = [];
    if (!(maxEvents > 0)) return events;
    // Starting at the first retained event, if it is later, makes from..from + max a range of existing events.
    const from = Math.max(Math.ceil(fromSequenceNumber), first);
    for (const row of this.#sql.readRows.all({ partition, from, max: maxEvents })) {
      let sequenceNumber = Math.max(from, row.first_sequence);
      for (const payload of sliceRow(row, sequenceNumber - row.first_sequence, maxEvents - events.length)) {
        const event: LogEvent = { partition, sequenceNumber, offset: String(sequenceNumber), enqueuedTime: row.enqueued_time, payload };
        if (row.partition_key !== null) event.partitionKey = row.partition_key;
        events.push(event);
        sequenceNumber++;
      }
    }
    return events;
  }

  async resolveStart(partition: number, position: StartPosition): Promise<number> {
    const { first, next } = this.#state(partition);
    switch (position.kind) {
      case 'earliest':
        return first;
      case 'latest':
        return next;
      case 'sequenceNumber':
      case 'offset': {
        const n = position.kind === 'offset' ? parseOffset(position.value) : position.value;
        if (!Number.isSafeInteger(n) || n < -1) throw new RangeError(`not a valid sequence number: ${n}`);
        return Math.min(Math.max(position.inclusive ? n : n + 1, first), next);
      }
      case 'enqueuedTime': {
        const { value, inclusive } = position;
        const reached = (time: number) => (inclusive ? time >= value : time > value);
        // enqueuedTime never decreases within a partition and a row's events share it, so the first event that
        // reached it starts a row, found by bisection; each probe settles a whole row.
        let low = first;
        let high = next;
        while (low < high) {
          const mid = Math.floor((low + high) / 2);
          const row = this.#sql.selectSpan.get(partition, mid);
          if (row === undefined || row.last_sequence < mid) throw new Error(`telemetry log: no row holds ${partition}/${mid}`);
          if (reached(row.enqueued_time)) high = row.first_sequence;
          else low = row.last_sequence + 1;
        }
        return low;
      }
    }
  }

  async partitionInfo(partition: number): Promise<PartitionInfo> {
    const { first, next, lastTime } = this.#state(partition);
    return {
      partition,
      beginningSequenceNumber: first,
      lastEnqueuedSequenceNumber: next - 1,
      lastEnqueuedOffset: String(next - 1),
      lastEnqueuedTime: lastTime,
      isEmpty: first === next,
    };
  }

  onAppended(listener: (partition: number, lastSequenceNumber: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async enforceRetention(now: number): Promise<number> {
    let removed = 0;
    for (let partition = 0; partition < this.partitionCount; partition++) {
      for (;;) {
        if (this.#closed) return removed;
        const { count, more } = this.#write(() => this.#removeOldest.immediate(partition, now));
        removed += count;
        if (!more) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer.close();
    this.#listeners.clear();
    this.#db.close();
  }

  #createOrCheck(): PartitionState[] {
    const stored = this.#sql.selectPartitionCount.get();
    if (stored === undefined) {
      this.#sql.insertPartitionCount.run(this.partitionCount);
      for (let p = 0; p < this.partitionCount; p++) this.#sql.insertPartition.run(p);
    } else if (stored !== this.partitionCount) {
      throw new Error(`the telemetry log was created with ${stored} partitions and cannot be opened with ${this.partitionCount}; the partition count is fixed at creation`);
    }
    return this.#load();
  }

  #load(): PartitionState[] {
    return this.#sql.selectPartitions.all().map((row) => ({
      first: this.#sql.selectFirstSequence.get(row.partition) ?? row.next_sequence,
      next: row.next_sequence,
      bytes: row.bytes,
      lastTime: row.last_enqueued_time,
    }));
  }

  #commit(entries: readonly LogAppend[]): LogEvent[] {
    const { events, changed } = this.#write(() => this.#insertBatch.immediate(entries));
    for (const [partition, state] of changed) this.#partitions[partition] = state;
    return events;
  }

  /** The body of a batch's transaction. The new partition state is applied once the transaction committed. */
  #insert(entries: readonly LogAppend[]): Committed {
    const time = Math.floor(this.#now());
    const changed = new Map<number, PartitionState>();
    /** Per partition, the row its next event may join. */
    const open = new Map<number, RowBuilder>();
    const events: LogEvent[] = [];
    for (const { partition, payload, partitionKey } of entries) {
      let state = changed.get(partition);
      if (state === undefined) {
        const current = this.#partitions[partition]!;
        state = { ...current, lastTime: Math.max(current.lastTime, time) };
        changed.set(partition, state);
      }
      const sequenceNumber = state.next++;
      state.bytes += payload.length;
      const key = partitionKey ?? null;
      let row = open.get(partition);
      if (row === undefined || !row.accepts(payload, key)) {
        if (row !== undefined) this.#insertRow(partition, row, state.lastTime);
        row = new RowBuilder(sequenceNumber, key);
        open.set(partition, row);
      }
      row.add(payload);
      const event: LogEvent = { partition, sequenceNumber, offset: String(sequenceNumber), enqueuedTime: state.lastTime, payload };
      if (partitionKey !== undefined) event.partitionKey = partitionKey;
      events.push(event);
    }
    for (const [partition, row] of open) this.#insertRow(partition, row, changed.get(partition)!.lastTime);
    for (const [partition, s] of changed) this.#sql.updatePartition.run(s.next, s.bytes, s.lastTime, partition);
    return { events, changed };
  }

  #insertRow(partition: number, row: RowBuilder, time: number): void {
    const { payload, layout } = encodeRow(row.payloads);
    this.#sql.insertRow.run(partition, row.firstSequence, row.lastSequence, time, row.partitionKey, payload, layout);
  }

  /**
   * The body of one retention transaction: removes about RETENTION_CHUNK of the partition's oldest events that are
   * due. A row's events share their time, so age removes whole rows; size removes whole rows, then the first events
   * of the row in which the partition gets down to the limit, which is written again without them. The state is set
   * before COMMIT; should COMMIT fail, #write marks it stale.
   */
  #remove(partition: number, now: number): Removed {
    const state = this.#partitions[partition]!;
    const cutoff = now - this.#retention.maxAgeMs;
    const limit = this.#retention.maxBytesPerPartition;
    let bytes = state.bytes;
    /** Rows starting before `end` go whole. */
    let end = state.first;
    let partly: number | undefined;
    let more = false;
    for (const row of this.#sql.selectOldest.iterate(partition, state.first, RETENTION_CHUNK)) {
      if (row.enqueued_time >= cutoff && bytes - row.size <= limit) {
        if (bytes > limit) partly = row.first_sequence;
        break;
      }
      bytes -= row.size;
      end = row.last_sequence + 1;
      if (end - state.first >= RETENTION_CHUNK) {
        more = true;
        break;
      }
    }
    let first = end;
    if (partly !== undefined) {
      const row = this.#sql.selectRow.get(partition, partly)!;
      const lengths = eventLengths(row);
      let drop = 0;
      while (bytes > limit) bytes -= lengths[drop++]!;
      first = row.first_sequence + drop;
      if (drop === lengths.length) {
        end = first;
      } else {
        const kept = encodeRow(sliceRow(row, drop, lengths.length - drop));
        this.#sql.trimRow.run(first, kept.payload, kept.layout, partition, row.first_sequence);
      }
    }
    if (first === state.first) return { count: 0, more: false };
    if (end > state.first) this.#sql.deleteRows.run(partition, state.first, end);
    this.#sql.updatePartitionBytes.run(bytes, partition);
    this.#partitions[partition] = { ...state, first, bytes };
    return { count: first - state.first, more };
  }

  /** Runs a write; if it fails, the in-memory state may be ahead of the database, so it is reloaded before use. */
  #write<T>(body: () => T): T {
    if (this.#stale) this.#reload();
    try {
      return body();
    } catch (err) {
      this.#stale = true;
      throw err;
    }
  }

  #reload(): void {
    this.#partitions = this.#load();
    this.#stale = false;
  }

  #state(partition: number): PartitionState {
    this.#checkPartition(partition);
    if (this.#stale) this.#reload();
    return this.#partitions[partition]!;
  }

  #checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitionCount) {
      throw new RangeError(`partition ${partition} does not exist (0..${this.partitionCount - 1})`);
    }
  }

  /** One call per partition and batch, with the batch's last sequence number; a throwing listener stops no other. */
  #notify(events: readonly LogEvent[]): void {
    if (this.#listeners.size === 0) return;
    const last = new Map<number, number>();
    for (const event of events) last.set(event.partition, event.sequenceNumber);
    for (const listener of this.#listeners) {
      for (const [partition, sequenceNumber] of last) {
        try {
          listener(partition, sequenceNumber);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
  }
}

/** Offsets are sequence numbers in decimal; "-1" (before the first event) is the Event Hubs start of stream. */
function parseOffset(value: string): number {
  if (!/^(?:-1|0|[1-9]\d{0,15})$/.test(value)) throw new RangeError(`not a valid offset: "${value}"`);
  return Number(value);
}
