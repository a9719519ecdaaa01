/**
 * The durable, partitioned telemetry log behind the Event Hub-compatible endpoint. Every adapter passes
 * test/contract/telemetry-log.contract.ts.
 *
 * - `append` resolves only once the event is durable (it survives kill -9 of the process); adapters batch appends
 *   from all callers into group commits. It resolves in append order per partition.
 * - Sequence numbers start at 0 in each partition and increase by 1 per event, with no gaps and no reuse, even
 *   across restarts and after retention removed old events.
 * - Offsets are opaque decimal strings chosen by the adapter, strictly increasing with the sequence number within
 *   a partition; every offset the log handed out stays a valid `offset` start position.
 * - Times are milliseconds since the Unix epoch. `enqueuedTime` is set by the log, non-decreasing per partition.
 */
export interface TelemetryLog {
  readonly partitionCount: number;
  append(entry: LogAppend): Promise<LogEvent>;
  /**
   * As append, telling `receiver` instead of settling a promise; optional (callers fall back to append). For the
   * per-message paths: a promise, its two functions and a reaction job per message add up at 100,000 messages/s.
   */
  appendTo?(entry: LogAppend, receiver: AppendReceiver): void;
  /**
   * Events of one partition with sequence number >= `fromSequenceNumber`, ascending, at most `maxEvents`. Events
   * removed by retention are skipped; an empty array means nothing (yet) at or after that point.
   */
  read(partition: number, fromSequenceNumber: number, maxEvents: number): Promise<LogEvent[]>;
  /** The sequence number of the first event a reader starting at `position` receives (last + 1 if none yet). */
  resolveStart(partition: number, position: StartPosition): Promise<number>;
  partitionInfo(partition: number): Promise<PartitionInfo>;
  /** Called after events become durable (in this process), so tailing readers need not poll. Returns unsubscribe. */
  onAppended(listener: (partition: number, lastSequenceNumber: number) => void): () => void;
  /** Removes events older than the age limit or beyond the size limit; returns how many were removed. */
  enforceRetention(now: number): Promise<number>;
  close(): Promise<void>;
}

/** Told once whether one append became durable (with the event it became) or failed. */
export interface AppendReceiver {
  committed(event: LogEvent): void;
  failed(err: unknown): void;
}

export interface LogAppend {
  partition: number;
  payload: Buffer;
  partitionKey?: string;
}

export interface LogEvent {
  partition: number;
  sequenceNumber: number;
  offset: string;
  enqueuedTime: number;
  partitionKey?: string;
  payload: Buffer;
}

export type StartPosition =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'sequenceNumber'; value: number; inclusive: boolean }
  | { kind: 'offset'; value: string; inclusive: boolean }
  | { kind: 'enqueuedTime'; value: number; inclusive: boolean };

export interface PartitionInfo {
  partition: number;
  /** First retained sequence number; equals lastEnqueuedSequenceNumber + 1 when the partition is empty. */
  beginningSequenceNumber: number;
  /** -1 when nothing was ever appended. */
  lastEnqueuedSequenceNumber: number;
  lastEnqueuedOffset: string;
  lastEnqueuedTime: number;
  isEmpty: boolean;
}

export interface RetentionPolicy {
  /** Events older than this are removed. Default one day. */
  maxAgeMs: number;
  /** Per partition: the oldest events are removed while the partition holds more payload bytes than this. */
  maxBytesPerPartition: number;
}
