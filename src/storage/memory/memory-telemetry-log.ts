import type { LogAppend, LogEvent, PartitionInfo, RetentionPolicy, StartPosition, TelemetryLog } from '../../ports/telemetry-log.js';

export interface MemoryTelemetryLogOptions {
  retention?: RetentionPolicy;
  /** The clock that stamps enqueuedTime. */
  now?: () => number;
}

interface Partition {
  events: LogEvent[];
  next: number;
  bytes: number;
  /** Kept apart from the events so that enqueuedTime never goes back, even after retention removed them all. */
  lastTime: number;
}

/**
 * TelemetryLog in memory: for unit tests of the services and as the reference the contract suite is written
 * against. Not durable. Offsets are the sequence numbers as decimal strings.
 */
export class MemoryTelemetryLog implements TelemetryLog {
  readonly #partitions: Partition[];
  readonly #listeners = new Set<(partition: number, last: number) => void>();
  readonly #retention: RetentionPolicy;
  readonly #now: () => number;

  constructor(
    readonly partitionCount: number,
    options: MemoryTelemetryLogOptions = {},
  ) {
    if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
      throw new TypeError(`partitionCount must be a whole number >= 1, not ${partitionCount}`);
    }
    this.#retention = options.retention ?? { maxAgeMs: 86_400_000, maxBytesPerPartition: Number.MAX_SAFE_INTEGER };
    this.#now = options.now ?? Date.now;
    this.#partitions = Array.from({ length: partitionCount }, () => ({ events: [], next: 0, bytes: 0, lastTime: 0 }));
  }

  async append(entry: LogAppend): Promise<LogEvent> {
    const p = this.#partition(entry.partition);
    p.lastTime = Math.max(Math.floor(this.#now()), p.lastTime);
    const event: LogEvent = {
      partition: entry.partition,
      sequenceNumber: p.next,
      offset: String(p.next),
      enqueuedTime: p.lastTime,
      payload: entry.payload,
    };
    if (entry.partitionKey !== undefined) event.partitionKey = entry.partitionKey;
    p.next++;
    p.events.push(event);
    p.bytes += entry.payload.length;
    await Promise.resolve();
    for (const listener of this.#listeners) {
      try {
        listener(entry.partition, event.sequenceNumber);
      } catch (err) {
        // The event is stored: a faulty listener must not fail the append, nor keep the others from hearing of it.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    return event;
  }

  async read(partition: number, fromSequenceNumber: number, maxEvents: number): Promise<LogEvent[]> {
    const p = this.#partition(partition);
    if (!(maxEvents > 0)) return [];
    const first = p.events[0]?.sequenceNumber ?? p.next;
    const start = Math.max(0, Math.ceil(fromSequenceNumber) - first);
    return p.events.slice(start, start + maxEvents);
  }

  async resolveStart(partition: number, position: StartPosition): Promise<number> {
    const p = this.#partition(partition);
    const first = p.events[0]?.sequenceNumber ?? p.next;
    switch (position.kind) {
      case 'earliest':
        return first;
      case 'latest':
        return p.next;
      case 'sequenceNumber':
      case 'offset': {
        const n = position.kind === 'offset' ? parseOffset(position.value) : position.value;
        if (!Number.isSafeInteger(n) || n < -1) throw new RangeError(`not a valid sequence number: ${n}`);
        return Math.min(Math.max(position.inclusive ? n : n + 1, first), p.next);
      }
      case 'enqueuedTime': {
        const found = p.events.find((e) => (position.inclusive ? e.enqueuedTime >= position.value : e.enqueuedTime > position.value));
        return found?.sequenceNumber ?? p.next;
      }
    }
  }

  async partitionInfo(partition: number): Promise<PartitionInfo> {
    const p = this.#partition(partition);
    return {
      partition,
      beginningSequenceNumber: p.events[0]?.sequenceNumber ?? p.next,
      lastEnqueuedSequenceNumber: p.next - 1,
      lastEnqueuedOffset: String(p.next - 1),
      lastEnqueuedTime: p.lastTime,
      isEmpty: p.events.length === 0,
    };
  }

  onAppended(listener: (partition: number, lastSequenceNumber: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async enforceRetention(now: number): Promise<number> {
    let removed = 0;
    for (const p of this.#partitions) {
      while (p.events.length > 0 && (p.events[0]!.enqueuedTime < now - this.#retention.maxAgeMs || p.bytes > this.#retention.maxBytesPerPartition)) {
        p.bytes -= p.events.shift()!.payload.length;
        removed++;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  #partition(n: number): Partition {
    const p = Number.isInteger(n) ? this.#partitions[n] : undefined;
    if (!p) throw new RangeError(`partition ${n} does not exist (0..${this.partitionCount - 1})`);
    return p;
  }
}

/** Offsets are sequence numbers in decimal; "-1" (before the first event) is the Event Hubs start of stream. */
function parseOffset(value: string): number {
  if (!/^(?:-1|0|[1-9]\d{0,15})$/.test(value)) throw new RangeError(`not a valid offset: "${value}"`);
  return Number(value);
}
