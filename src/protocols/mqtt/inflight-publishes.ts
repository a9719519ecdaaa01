
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

interface Entry {
  /** The packet id to acknowledge; undefined for QoS 0. */
  messageId: number | undefined;
  durable: boolean;
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

  add(sending: Promise<unknown>, messageId: number | undefined): void {
    const entry: Entry = { messageId, durable: false };
    this.#queue.push(entry);
    if (!this.#paused && this.#queue.length > this.options.limit) {
      this.#paused = true;
      this.options.pause();
    }
    sending.then(
      () => {
        entry.durable = true;
        // A group commit resolves many sends in one go: acknowledge them together, in one write, once the
        // promise jobs have run (a tick scheduled from them runs after the microtask queue drains).
        if (!this.#flushScheduled) {
          this.#flushScheduled = true;
          process.nextTick(() => this.#flush());
        }
      },
      (err: unknown) => this.options.failed(err),
    );
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
