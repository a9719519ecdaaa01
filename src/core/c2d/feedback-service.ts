import { randomUUID } from 'node:crypto';
import type { FeedbackBatch } from '../../domain/c2d.js';
import { HubError } from '../../domain/errors.js';
import type { C2dStore } from '../../ports/c2d-store.js';
import type { MessageBus } from '../../ports/message-bus.js';

export interface FeedbackSettings {
  /** Records per feedback message; a batch is sealed as soon as this many wait. Azure: 64. */
  batchSize: number;
  /** Waiting records are sealed at least this often. Azure: 15 s. */
  flushIntervalMs: number;
  /** How long a back end holds a feedback message before it is offered again. Azure: 60 s. */
  lockMs: number;
  /** Feedback messages nobody accepted are dropped after this long. Azure: 1 hour. */
  ttlMs: number;
  /** ... or after this many deliveries. Azure: 10. */
  maxDeliveryCount: number;
}

export const DEFAULT_FEEDBACK_SETTINGS: FeedbackSettings = { batchSize: 64, flushIntervalMs: 15_000, lockMs: 60_000, ttlMs: 3_600_000, maxDeliveryCount: 10 };

export const FEEDBACK_SUBJECT = 'c2d.feedback';

/**
 * The feedback the hub owes back ends: records written by the C2D queue (in the same transaction as the outcome
 * they report) are sealed into batches, which back ends receive on `/messages/serviceBound/feedback` and settle.
 */
export class FeedbackService {
  private pending = 0;
  private sealing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: C2dStore,
    private readonly bus: MessageBus,
    readonly settings: FeedbackSettings,
    private readonly now: () => number,
    private readonly failed: (err: unknown, what: string) => void,
  ) {}

  async start(): Promise<void> {
    this.pending = await this.store.pendingFeedbackCount();
    this.timer = setInterval(() => this.flush(), this.settings.flushIntervalMs);
    this.timer.unref();
    if (this.pending > 0) this.flush();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.sealing;
  }

  /** The queue wrote `count` records; a full batch is sealed at once. */
  recorded(count: number): void {
    if (count <= 0) return;
    this.pending += count;
    if (this.pending >= this.settings.batchSize) this.seal(false);
  }

  /** Seals everything waiting (the periodic flush) and drops stale feedback messages. */
  flush(): void {
    this.seal(true);
    const { ttlMs, maxDeliveryCount } = this.settings;
    const now = this.now();
    this.store.expireFeedback(now - ttlMs, maxDeliveryCount, now).catch((err: unknown) => this.failed(err, 'expiring feedback'));
  }

  /** Locks the next feedback message; undefined when none waits. */
  async receive(): Promise<FeedbackBatch | undefined> {
    return (await this.receiveMany(1))[0];
  }

  /** Locks up to `max` feedback messages, oldest first, in one round of lock attempts. */
  async receiveMany(max: number): Promise<FeedbackBatch[]> {
    const now = this.now();
    const lock = { until: now + this.settings.lockMs, now, maxDeliveryCount: this.settings.maxDeliveryCount };
    const batches = await Promise.all(Array.from({ length: max }, () => this.store.lockNextFeedback({ ...lock, token: randomUUID() })));
    return batches.filter((b): b is FeedbackBatch => b !== undefined);
  }

  /** The back end accepted the feedback message. */
  async complete(lockToken: string): Promise<void> {
    if (!(await this.store.settleFeedback(lockToken, this.now()))) throw lockLost();
  }

  /** The back end gave the feedback message back (released, modified, rejected): offered again. */
  async abandon(lockToken: string): Promise<void> {
    if (!(await this.store.releaseFeedback(lockToken, this.now()))) throw lockLost();
    this.bus.publish(FEEDBACK_SUBJECT);
  }

  watch(wake: () => void): () => void {
    return this.bus.subscribe(FEEDBACK_SUBJECT, wake);
  }

  /**
   * One seal at a time. `all` seals until nothing waits (whatever this node counted: in a cluster other nodes write
   * records too); otherwise only full batches are sealed.
   */
  private seal(all: boolean): void {
    this.sealing = this.sealing.then(async () => {
      try {
        const { batchSize } = this.settings;
        for (;;) {
          // Every batch this node knows of is sealed in one round (one transaction in a batching store).
          const rounds = all ? Math.max(1, Math.ceil(this.pending / batchSize)) : Math.floor(this.pending / batchSize);
          if (rounds === 0) return;
          const now = this.now();
          const counts = await Promise.all(Array.from({ length: rounds }, () => this.store.sealFeedback(randomUUID(), batchSize, now)));
          let sealed = 0;
          for (const count of counts) {
            if (count === 0) continue;
            sealed++;
            this.pending = Math.max(0, this.pending - count);
          }
          if (sealed > 0) this.bus.publish(FEEDBACK_SUBJECT);
          if (sealed < rounds) {
            if (all) this.pending = 0;
            return;
          }
        }
      } catch (err) {
        this.failed(err, 'sealing feedback');
      }
    });
  }
}

function lockLost(): HubError {
  return new HubError('DeviceMessageLockLost', 'The lock on the feedback message was lost: it expired or the message was settled already');
}
