import type { IPublishPacket } from 'mqtt-packet';
import type { MqttConnection } from '../mqtt-connection.js';
import { decodePropertyBag, PropertyBagError, type PropertyBagEntry } from '../property-bag.js';
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
  const last = connection.lastTelemetryTopic;
  const bag = last !== undefined && last.topic === packet.topic ? last.bag : telemetryBag(connection, packet);
  if (bag === undefined) return;
  const payload = payloadOf(packet);
  const { message, unusable } = telemetryMessage(bag, payload, packet.retain);
  if (unusable.length > 0) connection.log.debug({ unusable }, 'ignored system properties without a usable value');
  connection.ctx.hub.telemetry.sendTo(identity, message, connection.inflight.open(packet.qos === 1 ? packet.messageId : undefined));
}

/**
 * The decoded property bag of a PUBLISH to the connection's own telemetry topic (remembered as its last one);
 * undefined when the packet was something else and has been dealt with (a twin or method topic, or a close).
 */
function telemetryBag(connection: MqttConnection, packet: IPublishPacket): readonly PropertyBagEntry[] | undefined {
  if (packet.topic.startsWith(TWIN_TOPIC_PREFIX)) return void handleTwinRequest(connection, packet);
  if (isMethodResponseTopic(packet.topic)) return void handleMethodResponse(connection, packet);
  const topic = parseTelemetryTopic(packet.topic);
  if (!topic) return void connection.close('protocol-error', 'a PUBLISH to a topic this hub does not serve', { topic: excerpt(packet.topic) });
  if (!topicBelongsTo(topic, connection.identity!)) {
    return void connection.close('protocol-error', "a PUBLISH to another identity's telemetry topic", { topic: excerpt(packet.topic) });
  }
  try {
    const bag = decodePropertyBag(topic.bag);
    connection.lastTelemetryTopic = { topic: packet.topic, bag };
    return bag;
  } catch (err) {
    if (!(err instanceof PropertyBagError)) throw err;
    return void connection.close('protocol-error', `a PUBLISH whose property bag does not decode: ${err.message}`);
  }
}

function excerpt(topic: string): string {
  return topic.length > 200 ? `${topic.slice(0, 200)}...` : topic;
}
