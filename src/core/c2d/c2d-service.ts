import { randomUUID } from 'node:crypto';
import { ACK_PROPERTY, deviceboundAddress, parseAck, wantsFeedback, type C2dContent, type C2dMessage, type C2dTarget, type FeedbackStatus, type NewC2dMessage } from '../../domain/c2d.js';
import { identityKey } from '../../domain/device-identity.js';
import { HubError } from '../../domain/errors.js';
import { messageSize } from '../../domain/message.js';
import { QUEUE_FULL, type C2dStore } from '../../ports/c2d-store.js';
import type { MessageBus } from '../../ports/message-bus.js';
import type { RegistryStore } from '../../ports/registry-store.js';
import type { DirectTaker } from './delivery-pump.js';
import type { FeedbackService } from './feedback-service.js';

export interface C2dSettings {
  /** Messages one queue may hold. Azure: 50, fixed. */
  maxQueueDepth: number;
  /** Largest message, counted as Azure counts. Azure: 64 KiB. */
  maxMessageBytes: number;
  /** Time to live of a message that names no expiry. Azure: 1 hour. */
  defaultTtlMs: number;
  /** Deliveries a message gets before it is dead-lettered. Azure: 10 (1 to 100). */
  maxDeliveryCount: number;
  /** How long a delivered message stays invisible awaiting its settlement. Azure: 60 s. */
  lockMs: number;
  /** How often expired messages are looked for. */
  expirySweepMs: number;
}

export const DEFAULT_C2D_SETTINGS: C2dSettings = {
  maxQueueDepth: 50,
  maxMessageBytes: 64 * 1024,
  defaultTtlMs: 3_600_000,
  maxDeliveryCount: 10,
  lockMs: 60_000,
  expirySweepMs: 1_000,
};

const EXPIRY_SWEEP_LIMIT = 1000;
/**
 * How long a target's generation id is taken from memory instead of the registry. Deletes on this node forget it at
 * once; a delete on another node of a cluster is seen within this time.
 */
const GENERATION_CACHE_MS = 5_000;
const GENERATION_CACHE_ENTRIES = 100_000;

export function mailSubject(target: C2dTarget): string {
  return `c2d.mail.${identityKey(target.deviceId, target.moduleId)}`;
}

/**
 * Cloud-to-device messaging, whatever protocol sends or receives: durable per-identity queues, locks while a device
 * holds a message, the settlements (complete, reject, abandon) and the feedback records they produce. Adapters that
 * push (MQTT, AMQP) run a DeliveryPump over `receive`; HTTPS devices call `receive` themselves.
 */
export class C2dService {
  private sweeper: NodeJS.Timeout | undefined;
  /** Generation ids of recent targets: a registry read per message was 6% of the hub's time under C2D load. */
  private readonly generations = new Map<string, { generationId: string; until: number }>();
  private readonly takers = new Map<string, DirectTaker<C2dMessage>>();

  constructor(
    private readonly store: C2dStore,
    private readonly registry: RegistryStore,
    private readonly bus: MessageBus,
    readonly feedback: FeedbackService,
    readonly settings: C2dSettings,
    private readonly now: () => number,
    private readonly failed: (err: unknown, what: string) => void,
  ) {}

  async start(): Promise<void> {
    await this.feedback.start();
    this.sweeper = setInterval(() => void this.expire(), this.settings.expirySweepMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await this.feedback.stop();
  }

  /** Queues a message for a device or module. Errors: DeviceNotFound, ModuleNotFound, MessageTooLarge, ArgumentInvalid, DeviceMaximumQueueDepthExceeded. */
  async send(target: C2dTarget, content: C2dContent): Promise<C2dMessage> {
    const size = messageSize(content);
    if (size > this.settings.maxMessageBytes) {
      throw new HubError('MessageTooLarge', `The message is ${size} bytes; this hub accepts cloud-to-device messages of at most ${this.settings.maxMessageBytes}`);
    }
    const ack = parseAck(content.applicationProperties[ACK_PROPERTY]);
    if (ack === undefined) throw new HubError('ArgumentInvalid', `${ACK_PROPERTY} must be none, positive, negative or full`);
    const generationId = this.knownGeneration(target) ?? (await this.generationOf(target));
    const now = this.now();
    const expiry = content.properties.absoluteExpiryTime;
    if (expiry !== undefined && !Number.isFinite(expiry)) throw new HubError('ArgumentInvalid', 'absolute-expiry-time is not a time');
    // A device on this node waiting with room gets the message locked as it is stored: one write, no notification.
    const taker = this.takers.get(identityKey(target.deviceId, target.moduleId));
    const direct = taker?.reserve() === true ? taker : undefined;
    let stored: C2dMessage | typeof QUEUE_FULL | undefined;
    try {
      // Built field by field: a spread followed by more fields makes a slow dictionary-mode object (µs per message).
      const message: NewC2dMessage = {
        deviceId: target.deviceId,
        content: { body: content.body, properties: { ...content.properties, to: deviceboundAddress(target) }, applicationProperties: content.applicationProperties },
        ack,
        generationId,
        enqueuedTime: now,
        expiryTime: expiry ?? now + this.settings.defaultTtlMs,
      };
      if (target.moduleId !== undefined) message.moduleId = target.moduleId;
      stored = await this.store.enqueue(
        message,
        this.settings.maxQueueDepth,
        direct && { token: randomUUID(), until: now + this.settings.lockMs, now, maxDeliveryCount: this.settings.maxDeliveryCount },
      );
    } finally {
      direct?.take(stored !== undefined && stored !== QUEUE_FULL && stored.lockToken !== undefined ? stored : undefined);
    }
    if (stored === QUEUE_FULL) {
      throw new HubError('DeviceMaximumQueueDepthExceeded', `The queue of ${describe(target)} holds ${this.settings.maxQueueDepth} messages, the most this hub allows`);
    }
    if (stored.lockToken === undefined) this.bus.publish(mailSubject(target));
    return stored;
  }

  /**
   * Registers a local consumer of the target's messages (a device's connection on this node) that new messages may
   * be handed to directly, locked as they are stored; returns the unregister. The latest registration wins.
   */
  standBy(target: C2dTarget, taker: DirectTaker<C2dMessage>): () => void {
    const key = identityKey(target.deviceId, target.moduleId);
    this.takers.set(key, taker);
    return () => {
      if (this.takers.get(key) === taker) this.takers.delete(key);
    };
  }

  /** Locks the next message for the target; undefined when none waits. */
  async receive(target: C2dTarget): Promise<C2dMessage | undefined> {
    return (await this.receiveMany(target, 1))[0];
  }

  /**
   * Locks up to `max` next messages for the target, in queue order. The lock attempts are issued together, so a
   * store that batches writes takes them in one transaction, each finding the next visible message.
   */
  async receiveMany(target: C2dTarget, max: number): Promise<C2dMessage[]> {
    const now = this.now();
    const lock = { until: now + this.settings.lockMs, now, maxDeliveryCount: this.settings.maxDeliveryCount };
    const attempts = await Promise.all(Array.from({ length: max }, () => this.store.lockNext(target, { ...lock, token: randomUUID() })));
    const messages: C2dMessage[] = [];
    for (const { message, deadLettered } of attempts) {
      this.recorded(deadLettered, 'DeliveryCountExceeded');
      if (message) messages.push(message);
    }
    return messages;
  }

  /** The device took the message: removed, feedback Success if asked. DeviceMessageLockLost if the lock is gone. */
  complete(target: C2dTarget, lockToken: string): Promise<void> {
    return this.settle(target, lockToken, 'Success');
  }

  /** The device refused the message: dead-lettered, feedback Rejected if asked. */
  reject(target: C2dTarget, lockToken: string): Promise<void> {
    return this.settle(target, lockToken, 'Rejected');
  }

  /** The device gave the message back: offered again, or dead-lettered once it has had its deliveries. */
  async abandon(target: C2dTarget, lockToken: string): Promise<void> {
    const released = await this.store.release(target, lockToken, this.now(), this.settings.maxDeliveryCount);
    if (!released) throw lockLost(target);
    if (released.deadLettered) this.recorded([released.message], 'DeliveryCountExceeded');
    else this.bus.publish(mailSubject(target));
  }

  /** A connection that held the message went away: offered again at once, as if its lock had ended. */
  async release(target: C2dTarget, lockToken: string): Promise<void> {
    if (await this.store.release(target, lockToken, this.now())) this.bus.publish(mailSubject(target));
  }

  /** Empties the target's queue (feedback Purged where asked); resolves how many messages were removed. */
  async purge(target: C2dTarget): Promise<number> {
    await this.generationOf(target);
    const purged = await this.store.purge(target, this.now());
    // The store decided which records to write; the seal that follows finds them whatever this count says.
    if (purged > 0) this.feedback.recorded(1);
    return purged;
  }

  count(target: C2dTarget): Promise<number> {
    return this.store.count(target, this.now());
  }

  /** The device was deleted: its queues go with it. */
  dropDevice(deviceId: string): Promise<void> {
    for (const key of this.generations.keys()) if (key === deviceId || key.startsWith(`${deviceId}/`)) this.generations.delete(key);
    return this.store.dropDevice(deviceId);
  }

  /** The module was deleted: messages are no longer accepted for it, and its queue is emptied (Purged). */
  async dropModule(deviceId: string, moduleId: string): Promise<void> {
    this.generations.delete(identityKey(deviceId, moduleId));
    if ((await this.store.purge({ deviceId, moduleId }, this.now())) > 0) this.feedback.recorded(1);
  }

  /** Subscribes to "a message is waiting for the target"; returns the unsubscribe. */
  watch(target: C2dTarget, wake: () => void): () => void {
    return this.bus.subscribe(mailSubject(target), wake);
  }

  /** Removes expired messages (feedback Expired where asked). */
  async expire(): Promise<number> {
    try {
      let total = 0;
      for (;;) {
        const expired = await this.store.expire(this.now(), EXPIRY_SWEEP_LIMIT);
        this.recorded(expired, 'Expired');
        total += expired.length;
        if (expired.length < EXPIRY_SWEEP_LIMIT) return total;
      }
    } catch (err) {
      this.failed(err, 'expiring cloud-to-device messages');
      return 0;
    }
  }

  /** Not async, nor are its callers: every delivered message is settled, and each async layer costs a promise and a turn. */
  private settle(target: C2dTarget, lockToken: string, status: FeedbackStatus): Promise<void> {
    return this.store.settle(target, lockToken, this.now(), status).then((settled) => {
      if (!settled) throw lockLost(target);
      this.recorded([settled], status);
    });
  }

  private recorded(messages: ReadonlyArray<Pick<C2dMessage, 'ack'>>, status: FeedbackStatus): void {
    let records = 0;
    for (const m of messages) if (wantsFeedback(m.ack, status)) records++;
    this.feedback.recorded(records);
  }

  /** The target's generation id when memory has it (no promise: it is there for nearly every message). */
  private knownGeneration(target: C2dTarget): string | undefined {
    const cached = this.generations.get(identityKey(target.deviceId, target.moduleId));
    return cached !== undefined && cached.until > this.now() ? cached.generationId : undefined;
  }

  private async generationOf(target: C2dTarget): Promise<string> {
    const known = this.knownGeneration(target);
    if (known !== undefined) return known;
    const key = identityKey(target.deviceId, target.moduleId);
    const now = this.now();
    const generationId = await this.readGeneration(target);
    if (this.generations.size >= GENERATION_CACHE_ENTRIES) this.generations.clear();
    this.generations.set(key, { generationId, until: now + GENERATION_CACHE_MS });
    return generationId;
  }

  private async readGeneration(target: C2dTarget): Promise<string> {
    if (target.moduleId === undefined) {
      const device = await this.registry.getDevice(target.deviceId);
      if (!device) throw new HubError('DeviceNotFound', `Device ${target.deviceId} is not registered`);
      return device.generationId;
    }
    const mod = await this.registry.getModule(target.deviceId, target.moduleId);
    if (!mod) throw new HubError('ModuleNotFound', `Module ${target.moduleId} is not registered on device ${target.deviceId}`);
    return mod.generationId;
  }
}

function lockLost(target: C2dTarget): HubError {
  return new HubError('DeviceMessageLockLost', `The lock token does not name a message ${describe(target)} holds: it expired, or the message was settled already`);
}

function describe(target: C2dTarget): string {
  return target.moduleId === undefined ? `device ${target.deviceId}` : `module ${target.deviceId}/${target.moduleId}`;
}
