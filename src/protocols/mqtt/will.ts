import type { IConnectPacket } from 'mqtt-packet';
import type { DeviceIdentity } from '../../domain/device-identity.js';
import type { HubMessage } from '../../domain/message.js';
import type { MqttConnection } from './mqtt-connection.js';
import { decodePropertyBag } from './property-bag.js';
import { telemetryMessage } from './telemetry-message.js';
import { parseTelemetryTopic, topicBelongsTo } from './telemetry-topic.js';

export const MESSAGE_TYPE_PROPERTY = 'iothub-MessageType';

type Will = NonNullable<IConnectPacket['will']>;

/**
 * IoT Hub accepts a will only on the identity's own telemetry topic and sends it as telemetry with
 * `iothub-MessageType: Will`. Returns the message, or why the will cannot be used.
 */
export function willMessage(will: Will, identity: DeviceIdentity): HubMessage | string {
  const topic = parseTelemetryTopic(will.topic);
  if (!topic || !topicBelongsTo(topic, identity)) return "the will topic is not this identity's telemetry topic";
  let bag;
  try {
    bag = decodePropertyBag(topic.bag);
  } catch (err) {
    return `the will topic's property bag does not decode: ${(err as Error).message}`;
  }
  const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload;
  const { message } = telemetryMessage(bag, payload, will.retain === true);
  message.applicationProperties[MESSAGE_TYPE_PROPERTY] = 'Will';
  return message;
}

export function publishWill(connection: MqttConnection, identity: DeviceIdentity, will: HubMessage): void {
  connection.ctx.hub.telemetry.send(identity, will).then(
    () => connection.log.info('published the will of a connection that ended abnormally'),
    (err: unknown) => connection.log.warn({ err }, 'could not publish the will'),
  );
}
