import type { LogAppend, LogEvent, PartitionInfo, RetentionPolicy, StartPosition, TelemetryLog } from '../../ports/telemetry-log.js';

/**
 * TelemetryLog in memory: for unit tests of the services and as the reference the contract suite is written
 * against. Not durable. Offsets are the sequence numbers as decimal strings.
 */
export class MemoryTelemetryLog implements TelemetryLog {
  private readonly partitions: Array<{ events: LogEvent[]; next: number; bytes: number }>;
  private readonly listeners = new Set<(partition: number, last: number) => void>();

  constructor(
    readonly partitionCount: number,
    private readonly retention: RetentionPolicy = { maxAgeMs: 86_400_000, maxBytesPerPartition: Number.MAX_SAFE_INTEGER },
    private readonly now: () => number = Date.now,
  ) {
    this.partitions = Array.from({ length: partitionCount }, () => ({ events: [], next: 0, bytes: 0 }));
  }

  async append(entry: LogAppend): Promise<LogEvent> {
    const p = this.partition(entry.partition);
    const last = p.events[p.events.length - 1];
    const event: LogEvent = {
      partition: entry.partition,
      sequenceNumber: p.next,
      offset: String(p.next),
      enqueuedTime: Math.max(this.now(), last?.enqueuedTime ?? 0),
      payload: entry.payload,
    };
    if (entry.partitionKey !== undefined) event.partitionKey = entry.partitionKey;
    p.next++;
    p.events.push(event);
    p.bytes += entry.payload.length;
    await Promise.resolve();
    for (const listener of this.listeners) listener(entry.partition, event.sequenceNumber);
    return event;
  }

  async read(partition: number, fromSequenceNumber: number, maxEvents: number): Promise<LogEvent[]> {
    const p = this.partition(partition);
    const first = p.events[0]?.sequenceNumber ?? p.next;
    const start = Math.max(0, fromSequenceNumber - first);
    return p.events.slice(start, start + maxEvents);
  }

  async resolveStart(partition: number, position: StartPosition): Promise<number> {
    const p = this.partition(partition);
    const first = p.events[0]?.sequenceNumber ?? p.next;
    switch (position.kind) {
      case 'earliest':
        return first;
      case 'latest':
        return p.next;
      case 'sequenceNumber':
      case 'offset': {
        const n = Number(position.value);
        if (!Number.isInteger(n) || n < -1) throw new RangeError(`not a valid ${position.kind}: ${position.value}`);
        return Math.min(Math.max(position.inclusive ? n : n + 1, first), p.next);
      }
      case 'enqueuedTime': {
        const found = p.events.find((e) => (position.inclusive ? e.enqueuedTime >= position.value : e.enqueuedTime > position.value));
        return found?.sequenceNumber ?? p.next;
      }
    }
  }

  async partitionInfo(partition: number): Promise<PartitionInfo> {
    const p = this.partition(partition);
    const last = p.events[p.events.length - 1];
    return {
      partition,
      beginningSequenceNumber: p.events[0]?.sequenceNumber ?? p.next,
      lastEnqueuedSequenceNumber: p.next - 1,
      lastEnqueuedOffset: last?.offset ?? String(p.next - 1),
      lastEnqueuedTime: last?.enqueuedTime ?? 0,
      isEmpty: p.events.length === 0,
    };
  }

  onAppended(listener: (partition: number, lastSequenceNumber: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async enforceRetention(now: number): Promise<number> {
    let removed = 0;
    for (const p of this.partitions) {
      while (p.events.length > 0 && (p.events[0]!.enqueuedTime < now - this.retention.maxAgeMs || p.bytes > this.retention.maxBytesPerPartition)) {
        p.bytes -= p.events.shift()!.payload.length;
        removed++;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private partition(n: number) {
    const p = this.partitions[n];
    if (!p) throw new RangeError(`partition ${n} does not exist (0..${this.partitionCount - 1})`);
    return p;
  }
}
