/** Where a pump hands what it locked: a device's connection, or a back end's feedback link. */
export interface DeliverySink<T> {
  /** How many more deliveries the sink takes now (MQTT in-flight window, AMQP link credit). */
  capacity(): number;
  deliver(item: T): void;
}

export interface DeliveryPumpOptions<T> {
  /** Locks the next item for this sink; undefined when none is visible. */
  receive(): Promise<T | undefined>;
  /** Subscribes to "something new is waiting"; returns the unsubscribe. */
  watch(wake: () => void): () => void;
  sink: DeliverySink<T>;
  /** Looks again on its own this often: locks that ended, notifications lost between nodes. */
  rescanMs: number;
  /** Told when receive fails; the pump tries again at the next wake or rescan. */
  failed(err: unknown): void;
  /** An item locked just as the pump stopped: give it back to the queue. */
  unwanted(item: T): void;
}

/**
 * Moves items from a queue to one sink while the sink has room: on start, whenever the queue signals something new,
 * whenever the sink reports room (`wake`), and every `rescanMs`. One receive runs at a time, so items reach the sink
 * in queue order, and a slow sink only ever waits on itself.
 */
export class DeliveryPump<T> {
  private running = false;
  private pulling = false;
  private again = false;
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: DeliveryPumpOptions<T>) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.options.watch(() => this.wake());
    this.timer = setInterval(() => this.wake(), this.options.rescanMs);
    this.timer.unref();
    this.wake();
  }

  stop(): void {
    this.running = false;
    this.unwatch?.();
    this.unwatch = undefined;
    clearInterval(this.timer);
  }

  /** Something may be waiting, or the sink has room again. */
  wake(): void {
    if (!this.running) return;
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
        while (this.running && this.options.sink.capacity() > 0) {
          const item = await this.options.receive();
          if (item === undefined) break;
          if (!this.running) {
            this.options.unwanted(item);
            break;
          }
          this.options.sink.deliver(item);
        }
      } while (this.again && this.running);
    } catch (err) {
      this.options.failed(err);
    } finally {
      this.pulling = false;
    }
  }
}
