import type { Logger } from 'pino';
import type { AmqpError, Sender } from 'rhea';
import type { ReadEvent, TelemetryReader } from '../../core/eventhub/telemetry-reader.js';
import { encodeEventMessage, type LastEnqueuedEvent } from './event-encoding.js';
import { isLinkAlive, observeLink, presettle, unusedCredit } from './link-state.js';

/** AMQP 1.0 message format 0: the bytes are a standard message (rhea sends them as they are). */
const MESSAGE_FORMAT = 0;

export interface PartitionPumpOptions {
  link: Sender;
  reader: TelemetryReader;
  partition: number;
  /** Sequence number of the first event to deliver. */
  from: number;
  /** Send deliveries settled (the peer then sends no dispositions) or wait for its outcome. */
  presettle: boolean;
  /** Add the last-enqueued-event delivery annotations (`com.microsoft:enable-receiver-runtime-metric`). */
  runtimeMetric: boolean;
  /** Events read from the log at a time. */
  readBatch: number;
  logger: Logger;
  now: () => number;
  /** Called once when the pump stops, whatever the reason. */
  onStop(): void;
}

/**
 * Streams one partition to one receiver link, strictly within the credit the receiver granted. It runs when woken:
 * by the link ('sendable': new credit, or room again in rhea's outgoing window) and by the endpoint when the
 * partition grows; when it has neither credit nor events it waits, it never polls. It only observes the link's
 * events, leaving them to the adapter's handlers too.
 */
export class PartitionPump {
  readonly #o: PartitionPumpOptions;
  #next: number;
  #sent = 0;
  #buffer: ReadEvent[] = [];
  #index = 0;
  #last: LastEnqueuedEvent | undefined;
  #running = false;
  #again = false;
  #stopped = false;
  readonly #wake = () => this.wake();
  readonly #closed = () => this.stop();

  constructor(options: PartitionPumpOptions) {
    this.#o = options;
    this.#next = options.from;
    const events = observeLink(options.link);
    events.on('sendable', this.#wake);
    events.on('sender_close', this.#closed);
  }

  isAlive(): boolean {
    return !this.#stopped && isLinkAlive(this.#o.link);
  }

  /** Runs the pump now, or once more after the current run. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#run();
  }

  /** Stops for good; with an error, also detaches the link with it. */
  stop(error?: AmqpError): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#buffer = [];
    const events = observeLink(this.#o.link);
    events.off('sendable', this.#wake);
    events.off('sender_close', this.#closed);
    if (error && this.#o.link.is_open()) this.#o.link.close(error);
    this.#o.onStop();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      do {
        this.#again = false;
        await this.#drain();
      } while (this.#again && !this.#stopped);
    } catch (err) {
      this.#o.logger.error({ err, partition: this.#o.partition }, 'event hub partition pump failed');
      this.stop({ condition: 'amqp:internal-error', description: 'The hub failed to read the partition' });
    } finally {
      this.#running = false;
    }
  }

  /** Sends until the credit or the partition runs out. */
  async #drain(): Promise<void> {
    const { link } = this.#o;
    for (;;) {
      if (this.#stopped) return;
      if (!isLinkAlive(link)) return this.stop();
      let room = unusedCredit(link, this.#sent);
      if (room <= 0) return;
      if (this.#index >= this.#buffer.length && !(await this.#refill())) return;
      while (room > 0 && this.#index < this.#buffer.length) {
        // rhea's outgoing window is full of deliveries the peer's session window or its outcomes hold back; rhea
        // says 'sendable' once it frees.
        if (!link.sendable()) return;
        const read = this.#buffer[this.#index++]!;
        const delivery = link.send(encodeEventMessage(read, this.#last), undefined, MESSAGE_FORMAT);
        if (this.#o.presettle) presettle(delivery);
        this.#sent++;
        this.#next = read.event.sequenceNumber + 1;
        room--;
      }
    }
  }

  /** Reads the next batch; false when the partition has nothing new (the endpoint wakes us when it grows). */
  async #refill(): Promise<boolean> {
    const batch = await this.#o.reader.read(this.#o.partition, this.#next, this.#o.readBatch);
    if (this.#stopped) return false;
    this.#buffer = batch;
    this.#index = 0;
    if (batch.length === 0) return false;
    if (this.#o.runtimeMetric) {
      const info = await this.#o.reader.partitionInfo(this.#o.partition);
      this.#last = { info, retrievedAt: this.#o.now() };
    }
    return true;
  }
}
