import { DeliveryPump } from '../../core/c2d/delivery-pump.js';
import type { C2dMessage, C2dTarget } from '../../domain/c2d.js';
import { isHubError } from '../../domain/errors.js';
import { deviceboundTopic } from './devicebound-topic.js';
import type { MqttConnection } from './mqtt-connection.js';

const MAX_PACKET_ID = 65535;

/**
 * Cloud-to-device messages to one connection, while it is a device's (modules get none over MQTT) and holds a
 * `c2d` subscription. Messages go out at the granted QoS, as many at a time as the window (`maxInflightC2d`)
 * allows. QoS 1: PUBACK completes the message (at-least-once). QoS 0: completed as it is sent (at-most-once, as
 * IoT Hub defines it). What is unacknowledged when delivery stops is given back to the queue at once.
 */
export class C2dDelivery {
  #pump: DeliveryPump<C2dMessage> | undefined;
  #target: C2dTarget | undefined;
  #qos: 0 | 1 = 1;
  /** Lock tokens of QoS 1 publishes awaiting their PUBACK, by packet id. */
  readonly #awaitingPuback = new Map<number, string>();
  /** QoS 0 publishes whose completion is still being written; they hold a place in the window too. */
  #completing = 0;
  /** Packet ids continue across stop and start, so a late PUBACK cannot complete a newer publish. */
  #lastPacketId = 0;

  constructor(private readonly connection: MqttConnection) {}

  /** Starts, or picks up a changed QoS, if the connection qualifies; otherwise does nothing. */
  start(): void {
    const { connection } = this;
    const identity = connection.identity;
    const subscription = connection.session?.get('c2d');
    if (connection.closed || identity === undefined || identity.moduleId !== undefined || subscription === undefined) return;
    this.#qos = subscription.qos;
    this.#pump ??= this.#createPump({ deviceId: identity.deviceId });
    this.#pump.start();
  }

  /** The connection closed or the client unsubscribed: no more publishes, and what is unacknowledged is released. */
  stop(): void {
    this.#pump?.stop();
    for (const lockToken of this.#awaitingPuback.values()) this.#release(lockToken);
    this.#awaitingPuback.clear();
  }

  /** A PUBACK from the client. */
  acknowledged(packetId: number): void {
    const lockToken = this.#awaitingPuback.get(packetId);
    if (lockToken === undefined) {
      this.connection.log.debug({ packetId }, 'PUBACK for a packet id not in flight');
      return;
    }
    this.#awaitingPuback.delete(packetId);
    void this.#complete(lockToken);
    this.#pump?.roomFreed();
  }

  #createPump(target: C2dTarget): DeliveryPump<C2dMessage> {
    const { hub, settings } = this.connection.ctx;
    this.#target = target;
    return new DeliveryPump<C2dMessage>({
      receive: (max) => hub.c2d.receiveMany(target, max),
      watch: (wake) => hub.c2d.watch(target, wake),
      standBy: (taker) => hub.c2d.standBy(target, taker),
      sink: { capacity: () => this.#capacity(), deliver: (message) => this.#publish(message) },
      rescanMs: settings.c2dRescanMs,
      failed: (err) => this.connection.log.error({ err }, 'locking the next cloud-to-device message failed'),
      unwanted: (message) => this.#release(message.lockToken!),
    });
  }

  #capacity(): number {
    if (this.connection.closed) return 0;
    // Never more in flight than there are packet ids.
    const window = Math.min(this.connection.ctx.settings.maxInflightC2d, MAX_PACKET_ID);
    return window - this.#awaitingPuback.size - this.#completing;
  }

  #publish(message: C2dMessage): void {
    const lockToken = message.lockToken!;
    let topic: string;
    try {
      topic = deviceboundTopic(message);
    } catch (err) {
      // Not expressible as a topic (a lone surrogate in a property, say): it is dead-lettered once its deliveries are used up.
      this.connection.log.error({ err, sequenceNumber: message.sequenceNumber }, 'a cloud-to-device message has no MQTT topic form');
      this.#release(lockToken);
      return;
    }
    const payload = message.content.body;
    if (this.#qos === 0) {
      this.connection.write({ cmd: 'publish', topic, payload, qos: 0, dup: false, retain: false });
      this.#completing++;
      void this.#complete(lockToken).then(() => {
        this.#completing--;
        this.#pump?.roomFreed();
      });
      return;
    }
    const messageId = this.#nextPacketId();
    this.#awaitingPuback.set(messageId, lockToken);
    this.connection.write({ cmd: 'publish', topic, payload, qos: 1, dup: false, retain: false, messageId });
  }

  /** 1..65535, skipping ids still awaiting their PUBACK. */
  #nextPacketId(): number {
    do this.#lastPacketId = (this.#lastPacketId % MAX_PACKET_ID) + 1;
    while (this.#awaitingPuback.has(this.#lastPacketId));
    return this.#lastPacketId;
  }

  /** Never rejects: a failure is logged and the message comes back when its lock ends. */
  #complete(lockToken: string): Promise<void> {
    return this.connection.ctx.hub.c2d.complete(this.#target!, lockToken).catch((err: unknown) => {
      // The lock ended and the message was offered again (or is gone): at-least-once holds, nothing went wrong here.
      if (isHubError(err, 'DeviceMessageLockLost')) this.connection.log.debug({ lockToken }, 'a cloud-to-device message was acknowledged after its lock was lost');
      else this.connection.log.error({ err, lockToken }, 'completing a cloud-to-device message failed');
    });
  }

  #release(lockToken: string): void {
    this.connection.ctx.hub.c2d.release(this.#target!, lockToken).catch((err: unknown) => {
      this.connection.log.error({ err, lockToken }, 'releasing a cloud-to-device message failed');
    });
  }
}
