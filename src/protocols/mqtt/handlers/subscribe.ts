import type { ISubscribePacket } from 'mqtt-packet';
import type { MqttConnection } from '../mqtt-connection.js';
import { classifyFilter, type SubscriptionKind } from '../subscription-filters.js';

/**
 * Only the filters IoT Hub documents for this identity; any other closes the connection, as IoT Hub does (SDKs
 * take a SUBACK as success, so there is no failure code to send). QoS is granted up to 1. SUBACK follows once a
 * persistent session has stored the change, so a reconnect right after it finds the subscription; C2D delivery
 * starts after the SUBACK.
 */
export function handleSubscribe(connection: MqttConnection, packet: ISubscribePacket): void {
  const identity = connection.identity!;
  const session = connection.session!;
  const accepted: Array<{ kind: SubscriptionKind; topic: string; qos: 0 | 1 }> = [];
  for (const { topic, qos } of packet.subscriptions) {
    const kind = classifyFilter(topic, identity);
    if (kind === undefined) return connection.close('protocol-error', 'a SUBSCRIBE to a topic filter IoT Hub does not offer', { topic });
    accepted.push({ kind, topic, qos: qos === 0 ? 0 : 1 });
  }
  for (const { kind, topic, qos } of accepted) session.set(kind, { topic, qos });
  session.save().then(
    () => {
      connection.write({ cmd: 'suback', messageId: packet.messageId!, granted: accepted.map((a) => a.qos) });
      if (accepted.some((a) => a.kind === 'c2d')) connection.c2d.start();
      if (accepted.some((a) => a.kind === 'methods')) connection.methods.start();
      if (accepted.some((a) => a.kind === 'twinDesired')) connection.twinDesired.start();
    },
    (err: unknown) => connection.close('hub-error', 'could not store the session', { err }),
  );
}
