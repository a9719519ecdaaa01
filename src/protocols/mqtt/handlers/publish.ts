import type { IPublishPacket } from 'mqtt-packet';
import type { MqttConnection } from '../mqtt-connection.js';
import { decodePropertyBag, PropertyBagError } from '../property-bag.js';
import { telemetryMessage } from '../telemetry-message.js';
import { handleMethodResponse } from '../method-calls.js';
import { isMethodResponseTopic } from '../method-topics.js';
import { handleTwinRequest } from '../twin-requests.js';
import { TWIN_TOPIC_PREFIX } from '../twin-topics.js';
import { parseTelemetryTopic, topicBelongsTo } from '../telemetry-topic.js';
import { payloadOf } from '../publish-payload.js';

/**
 * Device-to-cloud telemetry. IoT Hub closes the connection where MQTT has no way to refuse: QoS 2, a topic it does
 * not serve or that belongs to another identity, a property bag that does not decode, a message the hub rejects.
 * QoS 1 is acknowledged once the message is durable (InflightPublishes keeps PUBACKs in order).
 */
export function handlePublish(connection: MqttConnection, packet: IPublishPacket): void {
  const identity = connection.identity!;
  if (packet.qos === 2) return connection.close('protocol-error', 'a PUBLISH with QoS 2: IoT Hub accepts QoS 0 and 1');
  if (packet.topic.startsWith(TWIN_TOPIC_PREFIX)) return handleTwinRequest(connection, packet);
  if (isMethodResponseTopic(packet.topic)) return handleMethodResponse(connection, packet);
  const topic = parseTelemetryTopic(packet.topic);
  if (!topic) return connection.close('protocol-error', 'a PUBLISH to a topic this hub does not serve', { topic: excerpt(packet.topic) });
  if (!topicBelongsTo(topic, identity)) {
    return connection.close('protocol-error', "a PUBLISH to another identity's telemetry topic", { topic: excerpt(packet.topic) });
  }
  let bag;
  try {
    bag = decodePropertyBag(topic.bag);
  } catch (err) {
    if (!(err instanceof PropertyBagError)) throw err;
    return connection.close('protocol-error', `a PUBLISH whose property bag does not decode: ${err.message}`);
  }
  const payload = payloadOf(packet);
  const { message, unusable } = telemetryMessage(bag, payload, packet.retain);
  if (unusable.length > 0) connection.log.debug({ unusable }, 'ignored system properties without a usable value');
  connection.ctx.hub.telemetry.sendTo(identity, message, connection.inflight.open(packet.qos === 1 ? packet.messageId : undefined));
}

function excerpt(topic: string): string {
  return topic.length > 200 ? `${topic.slice(0, 200)}...` : topic;
}
