import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { watchAppends } from './append-watch.js';
import type { LogAppend, LogEvent, PartitionInfo, RetentionPolicy, StartPosition, TelemetryLog } from '../../ports/telemetry-log.js';
import { getStored, type GetRequest, type Stored } from './direct-get.js';
import { StreamPublisher } from './stream-publisher.js';
import { eventHeaders, storedTime, toEvent } from './telemetry-message.js';
import { TelemetryStreams, checkPartitionCount, ensurePartitionStream, readFloor, writeFloor } from './telemetry-streams.js';

export interface JetStreamTelemetryLogOptions {
  /** Fixed when the log is created; opening it again with another count throws. */
  partitionCount: number;
  /** Names the log's streams and subjects (see TelemetryStreams): one log per prefix, e.g. per hub. */
  prefix: string;
  retention?: RetentionPolicy;
  /** The clock that stamps enqueuedTime. */
  now?: () => number;
  /**
   * Whether the streams' max_age also expires events, by the server's clock, between enforceRetention passes. The
   * size limit is always the streams' max_bytes. Default true.
   */
  serverMaxAge?: boolean;
  /** How long a read waits for the server. Default 5000 ms. */
  timeoutMs?: number;
}

const DEFAULT_RETENTION: RetentionPolicy = { maxAgeMs: 86_400_000, maxBytesPerPartition: Number.MAX_SAFE_INTEGER };

interface PartitionState {
  /** The last enqueuedTime this process stamped: the next one is not earlier. */
  stamped: number;
  /** The enqueuedTime of the last stored event this process knows of, kept after retention removed it. */
  lastTime: number;
  /** The first retained sequence number as of this process's last retention pass. */
  observedFirst: number;
  /** The time floor recorded in the meta stream. */
  floor: number;
}

/** Sequence numbers: the first retained one, and the last one + 1. */
interface Bounds {
  first: number;
  next: number;
}

/**
 * TelemetryLog on NATS JetStream: one file-backed stream per partition (telemetry-streams.ts), so that JetStream's
 * stream sequence, which starts at 1 and never repeats, is the partition's sequence number + 1, even with many
 * processes appending to one partition. Offsets are the sequence numbers in decimal.
 *
 * `append` publishes without waiting for earlier appends (pipelined on the connection, stream-publisher.ts) and
 * resolves on JetStream's PubAck: the event is then stored on the server (written to its files, not yet fsynced: it survives
 * the death of either process, not a power cut). The log stamps enqueuedTime from its clock into a header, so
 * times never go back within what this process appends; processes appending to the same partition are ordered
 * only as far as their clocks agree. Reads use the streams' direct get API (direct-get.ts).
 *
 * The connection is the caller's: close() waits for pending appends but leaves it open.
 */
export class JetStreamTelemetryLog implements TelemetryLog {
  readonly partitionCount: number;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #publisher: StreamPublisher;
  readonly #jsm: JetStreamManager;
  readonly #streams: TelemetryStreams;
  readonly #partitions: PartitionState[];
  readonly #retention: RetentionPolicy;
  readonly #now: () => number;
  readonly #timeoutMs: number;
  readonly #listeners = new Set<(partition: number, lastSequenceNumber: number) => void>();
  #inFlight = 0;
  #unwatch: (() => void) | undefined;
  #idle: (() => void) | undefined;
  #closed = false;

  /** Creates the streams, or opens the log's existing ones (setting their limits to the options). */
  static async open(nc: NatsConnection, options: JetStreamTelemetryLogOptions): Promise<JetStreamTelemetryLog> {
    const { partitionCount } = options;
    if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
      throw new TypeError(`partitionCount must be a whole number >= 1, not ${partitionCount}`);
    }
    const streams = new TelemetryStreams(options.prefix);
    const jsm = await nc.jetstreamManager();
    const retention = options.retention ?? DEFAULT_RETENTION;
    const timeoutMs = options.timeoutMs ?? 5000;
    await checkPartitionCount(jsm, streams, partitionCount);
    const partitions = await Promise.all(
      Array.from({ length: partitionCount }, async (_, partition): Promise<PartitionState> => {
        await ensurePartitionStream(jsm, streams, partition, { retention, serverMaxAge: options.serverMaxAge ?? true });
        const [info, floor, [last]] = await Promise.all([
          jsm.streams.info(streams.stream(partition)),
          readFloor(jsm, streams, partition),
          getStored(nc, streams.stream(partition), [{ last_by_subj: streams.subject(partition) }], timeoutMs),
        ]);
        const lastTime = Math.max(floor, last ? storedTime(last) : 0);
        return { stamped: lastTime, lastTime, observedFirst: Math.max(1, info.state.first_seq) - 1, floor };
      }),
    );
    return new JetStreamTelemetryLog(nc, jsm, streams, partitions, { retention, now: options.now ?? Date.now, timeoutMs });
  }

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    streams: TelemetryStreams,
    partitions: PartitionState[],
    options: { retention: RetentionPolicy; now: () => number; timeoutMs: number },
  ) {
    this.partitionCount = partitions.length;
    this.#nc = nc;
    this.#js = nc.jetstream();
    this.#publisher = new StreamPublisher(nc, options.timeoutMs);
    this.#jsm = jsm;
    this.#streams = streams;
    this.#partitions = partitions;
    this.#retention = options.retention;
    this.#now = options.now;
    this.#timeoutMs = options.timeoutMs;
  }

  append(entry: LogAppend): Promise<LogEvent> {
    if (this.#closed) return Promise.reject(new Error('the telemetry log is closed'));
    let state: PartitionState;
    try {
      state = this.#state(entry.partition);
    } catch (err) {
      return Promise.reject(err);
    }
    const { partition, payload, partitionKey } = entry;
    const enqueuedTime = (state.stamped = Math.max(Math.floor(this.#now()), state.stamped));
    const stream = this.#streams.stream(partition);
    const appended = this.#publisher.publish(this.#streams.subject(partition), payload, eventHeaders(enqueuedTime, partitionKey)).then((ack) => {
      if (ack.stream !== stream) throw new Error(`the event for partition ${partition} went to stream ${ack.stream}, not ${stream}: another stream takes subject ${this.#streams.subject(partition)}`);
      const sequenceNumber = ack.seq - 1;
      state.lastTime = Math.max(state.lastTime, enqueuedTime);
      const event: LogEvent = { partition, sequenceNumber, offset: String(sequenceNumber), enqueuedTime, payload };
      if (partitionKey !== undefined) event.partitionKey = partitionKey;
      this.#notify(partition, sequenceNumber);
      return event;
    });
    this.#inFlight++;
    const settled = () => {
      if (--this.#inFlight === 0) this.#idle?.();
    };
    appended.then(settled, settled);
    return appended;
  }

  async read(partition: number, fromSequenceNumber: number, maxEvents: number): Promise<LogEvent[]> {
    this.#state(partition);
    const max = Math.floor(maxEvents);
    const from = Math.max(1, Math.ceil(fromSequenceNumber) + 1 || 1);
    if (!(max > 0) || !Number.isSafeInteger(from)) return [];
    const subject = this.#streams.subject(partition);
    // The first retained event at or after `from`, and the last one: retention may have removed events before either.
    const [first, last] = await this.#get(partition, [{ seq: from, next_by_subj: subject }, { last_by_subj: subject }]);
    if (first === undefined) return [];
    const end = Math.min(Math.max(last?.seq ?? 0, first.seq), first.seq + Math.min(max, Number.MAX_SAFE_INTEGER) - 1);
    const rest = await this.#get(partition, Array.from({ length: end - first.seq }, (_, i) => ({ seq: first.seq + 1 + i })));
    return [first, ...rest].filter((s): s is Stored => s !== undefined).map((s) => toEvent(partition, s));
  }

  async resolveStart(partition: number, position: StartPosition): Promise<number> {
    this.#state(partition);
    const requested = position.kind === 'sequenceNumber' || position.kind === 'offset' ? checkedSequence(position) : undefined;
    const { first, next } = await this.#bounds(partition);
    switch (position.kind) {
      case 'earliest':
        return first;
      case 'latest':
        return next;
      case 'sequenceNumber':
      case 'offset':
        return Math.min(Math.max(position.inclusive ? requested! : requested! + 1, first), next);
      case 'enqueuedTime': {
        const { value, inclusive } = position;
        return this.#firstReaching(partition, first, next, (time) => (inclusive ? time >= value : time > value));
      }
    }
  }

  async partitionInfo(partition: number): Promise<PartitionInfo> {
    const state = this.#state(partition);
    const { first, next } = await this.#bounds(partition);
    if (first < next) {
      // Retention may remove the last event between the two requests: its time is then the one known here.
      const [last] = await this.#get(partition, [{ seq: next }]);
      if (last !== undefined) state.lastTime = Math.max(state.lastTime, storedTime(last));
    }
    return {
      partition,
      beginningSequenceNumber: first,
      lastEnqueuedSequenceNumber: next - 1,
      lastEnqueuedOffset: String(next - 1),
      lastEnqueuedTime: state.lastTime,
      isEmpty: first === next,
    };
  }

  /** Listeners hear this process's appends at once and other processes' (other hub nodes') as JetStream stores them. */
  onAppended(listener: (partition: number, lastSequenceNumber: number) => void): () => void {
    this.#listeners.add(listener);
    this.#unwatch ??= watchAppends(
      this.#js,
      Array.from({ length: this.partitionCount }, (_, p) => this.#streams.stream(p)),
      (partition, sequenceNumber) => this.#notify(partition, sequenceNumber),
      () => undefined,
    );
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopWatching();
    };
  }

  #stopWatching(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /**
   * Removes the events whose enqueuedTime is older than the age limit at `now` (the server's max_age would do so a
   * little later by its own clock). Returns how many events left the log since the previous pass of this log, by this
   * pass or by the streams' limits; the server enforces the size limit on every append.
   */
  async enforceRetention(now: number): Promise<number> {
    let removed = 0;
    for (let partition = 0; partition < this.partitionCount && !this.#closed; partition++) {
      removed += await this.#enforce(partition, now);
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#publisher.close();
    this.#listeners.clear();
    this.#stopWatching();
  }

  async #enforce(partition: number, now: number): Promise<number> {
    const state = this.#partitions[partition]!;
    let { first, next } = await this.#bounds(partition);
    const cutoff = now - this.#retention.maxAgeMs;
    const keep = await this.#firstReaching(partition, first, next, (time) => time >= cutoff);
    if (keep > first) {
      // Removes the stream sequences below keep + 1; later appends are beyond it and untouched.
      await this.#jsm.streams.purge(this.#streams.stream(partition), { seq: keep + 1 });
      first = keep;
    }
    const removed = Math.max(0, first - state.observedFirst);
    state.observedFirst = Math.max(state.observedFirst, first);
    if (first === next && state.lastTime > state.floor) {
      // Nothing is left to carry the partition's last enqueuedTime over a restart.
      await writeFloor(this.#jsm, this.#streams, partition, state.lastTime);
      state.floor = state.lastTime;
    }
    return removed;
  }

  /** The first sequence number in [low, high) whose event's time reached the mark (high if none), by bisection. */
  async #firstReaching(partition: number, low: number, high: number, reached: (time: number) => boolean): Promise<number> {
    // enqueuedTime does not decrease within a partition; an event gone meanwhile was removed as one of the oldest.
    const reachedAt = async (sequenceNumber: number) => {
      const [event] = await this.#get(partition, [{ seq: sequenceNumber + 1 }]);
      return event !== undefined && reached(storedTime(event));
    };
    // Most calls (retention with nothing due, reads from long ago) end at the first event: one request.
    if (low < high && (await reachedAt(low))) return low;
    let from = Math.min(low + 1, high);
    while (from < high) {
      const mid = Math.floor((from + high) / 2);
      if (await reachedAt(mid)) high = mid;
      else from = mid + 1;
    }
    return from;
  }

  async #bounds(partition: number): Promise<Bounds> {
    const { state } = await this.#jsm.streams.info(this.#streams.stream(partition));
    // A stream that never held a message reports first_seq 0; an emptied one reports last_seq + 1.
    return { first: Math.max(1, state.first_seq) - 1, next: state.last_seq };
  }

  #get(partition: number, requests: readonly GetRequest[]): Promise<Array<Stored | undefined>> {
    return getStored(this.#nc, this.#streams.stream(partition), requests, this.#timeoutMs);
  }

  #state(partition: number): PartitionState {
    const state = Number.isInteger(partition) ? this.#partitions[partition] : undefined;
    if (state === undefined) throw new RangeError(`partition ${partition} does not exist (0..${this.partitionCount - 1})`);
    return state;
  }

  /** A throwing listener stops no other, and does not fail the append. */
  #notify(partition: number, sequenceNumber: number): void {
    for (const listener of this.#listeners) {
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

/** Offsets are sequence numbers in decimal; "-1" (before the first event) is the Event Hubs start of stream. */
function checkedSequence(position: { kind: 'sequenceNumber'; value: number } | { kind: 'offset'; value: string }): number {
  if (position.kind === 'offset' && !/^(?:-1|0|[1-9]\d{0,15})$/.test(position.value)) throw new RangeError(`not a valid offset: "${position.value}"`);
  const n = Number(position.value);
  if (!Number.isSafeInteger(n) || n < -1) throw new RangeError(`not a valid sequence number: ${n}`);
  return n;
}
