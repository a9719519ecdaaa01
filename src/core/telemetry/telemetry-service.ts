import type { DeviceIdentity } from '../../domain/device-identity.js';
import { HubError } from '../../domain/errors.js';
import { messageSize, TELEMETRY_ANNOTATIONS as A, type HubMessage } from '../../domain/message.js';
import { encodeMessage } from '../../domain/message-codec.js';
import { partitionOf } from '../../domain/partitioning.js';
import type { LogEvent, TelemetryLog } from '../../ports/telemetry-log.js';
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

  constructor(
    private readonly log: TelemetryLog,
    private readonly connections: ConnectionRegistry,
    options: TelemetryOptions = {},
  ) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.now = options.now ?? Date.now;
  }

  async send(identity: DeviceIdentity, message: HubMessage): Promise<LogEvent> {
    const size = messageSize(message);
    if (size > this.maxMessageBytes) {
      throw new HubError('MessageTooLarge', `The message is ${size} bytes; this hub accepts at most ${this.maxMessageBytes}`);
    }
    this.connections.touch(identity);
    return this.log.append({ partition: partitionOf(identity.deviceId, this.log.partitionCount), payload: encodeMessage(this.stamp(identity, message)) });
  }

  /** A batch counts against the size limit as a whole, and is appended in order. */
  async sendBatch(identity: DeviceIdentity, messages: HubMessage[]): Promise<void> {
    const size = messages.reduce((sum, m) => sum + messageSize(m), 0);
    if (size > this.maxMessageBytes) {
      throw new HubError('MessageTooLarge', `The batch is ${size} bytes; this hub accepts at most ${this.maxMessageBytes}`);
    }
    this.connections.touch(identity);
    const partition = partitionOf(identity.deviceId, this.log.partitionCount);
    await Promise.all(messages.map((m) => this.log.append({ partition, payload: encodeMessage(this.stamp(identity, m)) })));
  }

  private stamp(identity: DeviceIdentity, message: HubMessage): HubMessage {
    const annotations: HubMessage['annotations'] = { ...message.annotations };
    annotations[A.deviceId] = identity.deviceId;
    if (identity.moduleId !== undefined) annotations[A.moduleId] = identity.moduleId;
    else delete annotations[A.moduleId];
    annotations[A.authMethod] = JSON.stringify({
      scope: identity.authScope,
      type: identity.authType,
      issuer: 'iothub',
      acceptingIpFilterRule: null,
    });
    annotations[A.authGenerationId] = identity.generationId;
    annotations[A.enqueuedTime] = this.now();
    annotations[A.messageSource] = 'Telemetry';
    if (identity.modelId) annotations[A.modelId] = identity.modelId;
    return { ...message, annotations };
  }
}
