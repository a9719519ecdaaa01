
export interface InflightPublishesOptions {
  /** Above this many publishes awaiting durability, reading pauses; it resumes at half of it. */
  limit: number;
  pause(): void;
  resume(): void;
  /** Writes PUBACK bytes (several PUBACKs may come as one buffer). */
  acknowledge(bytes: Buffer): void;
  /** A send failed: MQTT 3.1.1 has no negative PUBACK, so the connection must close. */
  failed(err: unknown): void;
}

/** One publish awaiting durability: the telemetry service tells it the outcome (an AppendReceiver). */
class Entry {
  durable = false;

  constructor(
    /** The packet id to acknowledge; undefined for QoS 0. */
    readonly messageId: number | undefined,
    private readonly owner: InflightPublishes,
  ) {}

  committed(): void {
    this.durable = true;
    this.owner.durable();
  }

  failed(err: unknown): void {
    this.owner.failed(err);
  }
}

/**
 * Publishes handed to the telemetry service and not yet durable, in arrival order. A QoS 1 PUBLISH is
 * acknowledged only once it is durable and every publish before it has been acknowledged, so PUBACKs go out in the
 * order the PUBLISHes came in (MQTT 3.1.1 §4.6) and never before the message is safe.
 */
export class InflightPublishes {
  readonly #queue: Entry[] = [];
  #paused = false;
  #flushScheduled = false;

  constructor(private readonly options: InflightPublishesOptions) {}

  get count(): number {
    return this.#queue.length;
  }

  /** A publish the hub has already dealt with (a twin request, a method response): acknowledged in its turn. */
  acknowledgeInTurn(messageId: number | undefined): void {
    this.open(messageId).committed();
  }

  /** A publish handed on now, in arrival order: tell the returned receiver when it is durable or failed. */
  open(messageId: number | undefined): { committed(): void; failed(err: unknown): void } {
    const entry = new Entry(messageId, this);
    this.#queue.push(entry);
    if (!this.#paused && this.#queue.length > this.options.limit) {
      this.#paused = true;
      this.options.pause();
    }
    return entry;
  }

  /** An entry became durable. */
  durable(): void {
    // A group commit tells many sends in one go: acknowledge them together, in one write, once it is done (a tick
    // scheduled from it runs after it).
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(() => this.#flush());
    }
  }

  failed(err: unknown): void {
    this.options.failed(err);
  }

  #flush(): void {
    this.#flushScheduled = false;
    const ids: number[] = [];
    while (this.#queue[0]?.durable) {
      const { messageId } = this.#queue.shift()!;
      if (messageId !== undefined) ids.push(messageId);
    }
    if (ids.length > 0) this.options.acknowledge(pubacks(ids));
    if (this.#paused && this.#queue.length <= this.options.limit / 2) {
      this.#paused = false;
      this.options.resume();
    }
  }
}

/** PUBACKs of MQTT 3.1.1 are four fixed bytes: type 4, remaining length 2, the packet id. */
function pubacks(ids: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(4 * ids.length);
  ids.forEach((id, i) => {
    out[4 * i] = 0x40;
    out[4 * i + 1] = 0x02;
    out.writeUInt16BE(id, 4 * i + 2);
  });
  return out;
}
