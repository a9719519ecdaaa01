/** Where a pump hands what it locked: a device's connection, or a back end's feedback link. */
export interface DeliverySink<T> {
  /** How many more deliveries the sink takes now (MQTT in-flight window, AMQP link credit). */
  capacity(): number;
  deliver(item: T): void;
}

/**
 * A pump standing by for an item handed to it directly, without a store round trip of its own (a C2D message
 * locked as it was enqueued). `reserve` says whether the pump could take one now and, if so, holds its place (no
 * receive starts meanwhile, so nothing overtakes the item); `take` ends the reservation with the item, or with
 * undefined when none came.
 */
export interface DirectTaker<T> {
  reserve(): boolean;
  take(item: T | undefined): void;
}

export interface DeliveryPumpOptions<T> {
  /** Locks up to `max` next items for this sink, in queue order; fewer (or none) when fewer are visible. */
  receive(max: number): Promise<T[]>;
  /** Subscribes to "something new is waiting"; returns the unsubscribe. */
  watch(wake: () => void): () => void;
  sink: DeliverySink<T>;
  /** Looks again on its own this often: locks that ended, notifications lost between nodes. */
  rescanMs: number;
  /** Told when receive (or the sink) fails; the pump tries again at the next wake or rescan. */
  failed(err: unknown): void;
  /** An item locked just as the pump stopped, or that the sink failed to take: give it back to the queue. */
  unwanted(item: T): void;
  /** Registers the pump, while it runs, for items handed to it directly; returns the unregister. */
  standBy?(taker: DirectTaker<T>): () => void;
}

/** Most items one receive asks for; a backlog is drained in batches of up to this many per store round trip. */
const MAX_BATCH = 64;

/**
 * Moves items from a queue to one sink while the sink has room: on start, whenever the queue signals something new,
 * whenever the sink reports room (`wake`), and every `rescanMs`. One receive runs at a time, so items reach the sink
 * in queue order, and a slow sink only ever waits on itself. A pump is started and stopped, never replaced: a
 * second pump for the same sink could lock the next items while the first still gives one back.
 *
 * Receives ask for one item until two in a row found theirs, then for twice as many each time they find all they
 * asked for: a queue that holds one message at a time costs two single lock attempts per message (the second finds
 * nothing), as a one-by-one pump would, and a backlog drains in growing batches, one store round trip each.
 */
export class DeliveryPump<T> implements DirectTaker<T> {
  private running = false;
  private pulling = false;
  private reserved = false;
  private unregister: (() => void) | undefined;
  /**
   * False once a receive found fewer items than it asked for and nothing has signalled since: the queue is drained,
   * so room in the sink alone is no reason to ask the store again (that empty ask was one write per message).
   */
  private maybeWaiting = true;
  private again = false;
  private batch = 1;
  /** Receives in a row that found all they asked for. */
  private fullReceives = 0;
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: DeliveryPumpOptions<T>) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.options.watch(() => this.wake());
    this.unregister = this.options.standBy?.(this);
    this.scheduleRescan();
    this.wake();
  }

  stop(): void {
    this.running = false;
    this.unwatch?.();
    this.unwatch = undefined;
    this.unregister?.();
    this.unregister = undefined;
    clearTimeout(this.timer);
  }

  /**
   * Rescans come at a random point between half and one and a half periods: pumps started together (a fleet
   * reconnecting) would otherwise all go to the store in the same turn every period, a stall every few seconds.
   */
  private scheduleRescan(): void {
    this.timer = setTimeout(() => {
      this.wake();
      if (this.running) this.scheduleRescan();
    }, this.options.rescanMs * (0.5 + Math.random()));
    this.timer.unref();
  }

  /** Something may be waiting (a notification, a rescan, a lock given back). */
  wake(): void {
    this.maybeWaiting = true;
    this.pullWhenFree();
  }

  /** The sink has room again (an acknowledgement, link credit): pulls only if the queue may hold something. */
  roomFreed(): void {
    if (this.maybeWaiting) this.pullWhenFree();
  }

  reserve(): boolean {
    if (!this.running || this.pulling || this.reserved || this.options.sink.capacity() <= 0) return false;
    this.reserved = true;
    return true;
  }

  take(item: T | undefined): void {
    this.reserved = false;
    if (item !== undefined) this.hand([item]);
    // Wakes that came while reserved were held back.
    if (this.maybeWaiting) this.pullWhenFree();
  }

  private pullWhenFree(): void {
    if (!this.running || this.reserved) return;
    if (this.pulling) {
      this.again = true;
      return;
    }
    void this.pull();
  }

  private async pull(): Promise<void> {
    this.pulling = true;
    try {
      do {
        this.again = false;
        while (this.running) {
          const room = this.options.sink.capacity();
          if (room <= 0) break;
          const asked = Math.min(room, this.batch);
          // A wake while this receive runs sets it again: its message may have missed the receive.
          this.maybeWaiting = false;
          const items = await this.options.receive(asked);
          this.hand(items);
          if (items.length === asked) this.maybeWaiting = true;
          if (items.length < asked) {
            this.fullReceives = 0;
            this.batch = 1;
            break;
          }
          if (++this.fullReceives >= 2) this.batch = Math.min(this.batch * 2, MAX_BATCH);
        }
      } while (this.again && this.running);
    } catch (err) {
      this.maybeWaiting = true;
      this.options.failed(err);
    } finally {
      this.pulling = false;
    }
  }

  private hand(items: readonly T[]): void {
    for (const item of items) {
      if (!this.running) {
        this.options.unwanted(item);
        continue;
      }
      try {
        this.options.sink.deliver(item);
      } catch (err) {
        this.options.unwanted(item);
        this.options.failed(err);
      }
    }
  }
}
