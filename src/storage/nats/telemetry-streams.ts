import { DiscardPolicy, JSONCodec, NatsError, RetentionPolicy as StreamRetention, StorageType, nanos, type JetStreamManager, type StreamConfig } from 'nats';
import type { RetentionPolicy } from '../../ports/telemetry-log.js';

/** JetStream refuses a max_age below this. */
const MIN_SERVER_MAX_AGE_MS = 100;
/** Larger ages in nanoseconds overflow the server's int64. */
const MAX_SERVER_MAX_AGE_MS = 9e12;
const DEFAULT_DUPLICATE_WINDOW = nanos(120_000);

/**
 * The JetStream layout of one telemetry log: a stream per partition (`<prefix>-p<n>`, subject `<prefix>.p.<n>`),
 * whose stream sequence minus 1 is the partition's sequence number, and a small meta stream (`<prefix>-meta`,
 * one message per subject) holding the partition count and the time floors of partitions retention emptied.
 */
export class TelemetryStreams {
  constructor(readonly prefix: string) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) throw new TypeError(`the stream prefix must be 1-64 of A-Z a-z 0-9 _ -, not "${prefix}"`);
  }

  stream(partition: number): string {
    return `${this.prefix}-p${partition}`;
  }

  subject(partition: number): string {
    return `${this.prefix}.p.${partition}`;
  }

  get metaStream(): string {
    return `${this.prefix}-meta`;
  }

  get partitionCountSubject(): string {
    return `${this.prefix}.meta.partitions`;
  }

  floorSubject(partition: number): string {
    return `${this.prefix}.meta.floor.${partition}`;
  }

  /** Whether a stream name belongs to this log. */
  owns(name: string): boolean {
    return name === this.metaStream || (name.startsWith(`${this.prefix}-p`) && /^\d+$/.test(name.slice(this.prefix.length + 2)));
  }
}

export interface StreamLimits {
  retention: RetentionPolicy;
  /** Also let the server expire events by max_age (its own clock), not only enforceRetention. */
  serverMaxAge: boolean;
}

/**
 * The partition stream's config. max_bytes counts what the server stores per event: the payload plus subject,
 * headers and about 34 bytes of framing, so it is slightly stricter than the port's payload-only byte count.
 */
export function partitionStreamConfig(streams: TelemetryStreams, partition: number, limits: StreamLimits): Partial<StreamConfig> & { name: string } {
  const { maxAgeMs, maxBytesPerPartition } = limits.retention;
  const ageMs = Math.max(MIN_SERVER_MAX_AGE_MS, Math.round(maxAgeMs));
  const maxAge = limits.serverMaxAge && ageMs < MAX_SERVER_MAX_AGE_MS ? nanos(ageMs) : 0;
  return {
    name: streams.stream(partition),
    subjects: [streams.subject(partition)],
    retention: StreamRetention.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: maxAge,
    // The log sets no message ids, so the window is unused; but the server refuses one longer than max_age.
    duplicate_window: maxAge > 0 ? Math.min(maxAge, DEFAULT_DUPLICATE_WINDOW) : DEFAULT_DUPLICATE_WINDOW,
    max_bytes: maxBytesPerPartition < Number.MAX_SAFE_INTEGER ? Math.max(1, Math.floor(maxBytesPerPartition)) : -1,
    allow_direct: true,
    description: `Lazuli telemetry log ${streams.prefix}, partition ${partition}`,
  };
}

function metaStreamConfig(streams: TelemetryStreams): Partial<StreamConfig> & { name: string } {
  return {
    name: streams.metaStream,
    subjects: [`${streams.prefix}.meta.>`],
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    description: `Lazuli telemetry log ${streams.prefix}: partition count and time floors`,
  };
}

const json = JSONCodec<unknown>();

/** Records the partition count on first open; refuses another count later (also when two processes race to create). */
export async function checkPartitionCount(jsm: JetStreamManager, streams: TelemetryStreams, partitionCount: number): Promise<void> {
  await ensureStream(jsm, metaStreamConfig(streams));
  for (let attempt = 0; ; attempt++) {
    const stored = await lastValue(jsm, streams.metaStream, streams.partitionCountSubject);
    if (stored !== undefined) {
      if (stored !== partitionCount) {
        throw new Error(`the telemetry log ${streams.prefix} was created with ${String(stored)} partitions and cannot be opened with ${partitionCount}; the partition count is fixed at creation`);
      }
      return;
    }
    try {
      await jsm.jetstream().publish(streams.partitionCountSubject, json.encode(partitionCount), { expect: { lastSubjectSequence: 0 } });
      return;
    } catch (err) {
      // Another process recorded a count first: read it on the next round.
      if (attempt > 0 || !(err instanceof NatsError) || err.api_error?.err_code !== 10071) throw err;
    }
  }
}

/** Creates the partition's stream, or brings an existing one's limits in line with the options. */
export async function ensurePartitionStream(jsm: JetStreamManager, streams: TelemetryStreams, partition: number, limits: StreamLimits): Promise<void> {
  await ensureStream(jsm, partitionStreamConfig(streams, partition, limits));
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(config.name)).config;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add(config);
    return;
  }
  const changed = (['max_age', 'max_bytes', 'duplicate_window', 'allow_direct', 'max_msgs_per_subject'] as const).some((key) => key in config && config[key] !== current[key]);
  if (changed) await jsm.streams.update(config.name, { ...current, ...config });
}

/** The floor below which enqueuedTime may not go in a partition, as recorded by retention; 0 if none. */
export async function readFloor(jsm: JetStreamManager, streams: TelemetryStreams, partition: number): Promise<number> {
  const value = await lastValue(jsm, streams.metaStream, streams.floorSubject(partition));
  return typeof value === 'number' ? value : 0;
}

export async function writeFloor(jsm: JetStreamManager, streams: TelemetryStreams, partition: number, time: number): Promise<void> {
  await jsm.jetstream().publish(streams.floorSubject(partition), json.encode(time));
}

async function lastValue(jsm: JetStreamManager, stream: string, subject: string): Promise<unknown> {
  try {
    return (await jsm.streams.getMessage(stream, { last_by_subj: subject })).json<unknown>();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Deletes every stream of the log with this prefix; returns their names. */
export async function deleteTelemetryStreams(jsm: JetStreamManager, prefix: string): Promise<string[]> {
  const streams = new TelemetryStreams(prefix);
  const names: string[] = [];
  for await (const name of jsm.streams.names(`${prefix}.>`)) if (streams.owns(name)) names.push(name);
  await Promise.all(names.map((name) => jsm.streams.delete(name)));
  return names;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof NatsError && err.api_error?.code === 404;
}
