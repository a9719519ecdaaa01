import type { DeviceIdentity } from '../../domain/device-identity.js';
import { HubError } from '../../domain/errors.js';
import { messageSize, type HubMessage } from '../../domain/message.js';
import { encodeStampedMessage, stampOf, type MessageStamp } from '../../domain/message-codec.js';
import { partitionOf } from '../../domain/partitioning.js';
import type { AppendReceiver, LogAppend, LogEvent, TelemetryLog } from '../../ports/telemetry-log.js';
import type { ConnectionRegistry } from '../connections/connection-registry.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

export interface TelemetryOptions {
  /** Largest device-to-cloud message, and largest batch, in Azure's way of counting. Default 256 KB. */
  maxMessageBytes?: number;
  now?: () => number;
}

/**
 * Device-to-cloud telemetry, whatever protocol it came in on: checks the size, stamps Azure's system properties
 * and appends to the device's partition. The returned promise resolves once the message is durable; adapters
 * acknowledge (PUBACK, AMQP accepted, HTTP 204) only then.
 */
export class TelemetryService {
  readonly maxMessageBytes: number;
  private readonly now: () => number;
  private readonly stamps = new WeakMap<DeviceIdentity, Stamp>();

  constructor(
    private readonly log: TelemetryLog,
    private readonly connections: ConnectionRegistry,
    options: TelemetryOptions = {},
  ) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.now = options.now ?? Date.now;
  }

  /** Not async: the adapters call it for every message, and an async function adds a promise and two turns. */
  send(identity: DeviceIdentity, message: HubMessage): Promise<LogEvent> {
    try {
      return this.log.append(this.entryOf(identity, message));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The log entry of one message: size checked, stamped, encoded; the identity counts as active. */
  private entryOf(identity: DeviceIdentity, message: HubMessage): LogAppend {
    const size = messageSize(message);
    if (size > this.maxMessageBytes) {
      throw new HubError('MessageTooLarge', `The message is ${size} bytes; this hub accepts at most ${this.maxMessageBytes}`);
    }
    this.connections.touch(identity);
    const stamp = this.stampOf(identity);
    return { partition: stamp.partition, payload: this.encode(stamp, message) };
  }

  /**
   * As send, telling `receiver` instead of settling a promise (see TelemetryLog.appendTo); a refusal is told after
   * the caller returned, as a rejection would be.
   */
  sendTo(identity: DeviceIdentity, message: HubMessage, receiver: AppendReceiver): void {
    const { log } = this;
    if (log.appendTo === undefined) {
      this.send(identity, message).then((event) => receiver.committed(event), (err: unknown) => receiver.failed(err));
      return;
    }
    let entry: LogAppend;
    try {
      entry = this.entryOf(identity, message);
    } catch (err) {
      return queueMicrotask(() => receiver.failed(err));
    }
    log.appendTo(entry, receiver);
  }

  /** A batch counts against the size limit as a whole, and is appended in order. */
  async sendBatch(identity: DeviceIdentity, messages: HubMessage[]): Promise<void> {
    const size = messages.reduce((sum, m) => sum + messageSize(m), 0);
    if (size > this.maxMessageBytes) {
      throw new HubError('MessageTooLarge', `The batch is ${size} bytes; this hub accepts at most ${this.maxMessageBytes}`);
    }
    this.connections.touch(identity);
    const stamp = this.stampOf(identity);
    await Promise.all(messages.map((m) => this.log.append({ partition: stamp.partition, payload: this.encode(stamp, m) })));
  }

  private encode(stamp: Stamp, message: HubMessage): Buffer {
    return encodeStampedMessage(message, stamp.stamp, this.now());
  }

  /** What the hub stamps on every message of one identity, worked out once per connection. */
  private stampOf(identity: DeviceIdentity): Stamp {
    let stamp = this.stamps.get(identity);
    if (stamp) return stamp;
    const messageStamp = stampOf({
      deviceId: identity.deviceId,
      ...(identity.moduleId === undefined ? {} : { moduleId: identity.moduleId }),
      authScope: identity.authScope,
      authType: identity.authType,
      generationId: identity.generationId,
      ...(identity.modelId ? { modelId: identity.modelId } : {}),
    });
    stamp = { partition: partitionOf(identity.deviceId, this.log.partitionCount), stamp: messageStamp };
    this.stamps.set(identity, stamp);
    return stamp;
  }
}

interface Stamp {
  partition: number;
  stamp: MessageStamp;
}
