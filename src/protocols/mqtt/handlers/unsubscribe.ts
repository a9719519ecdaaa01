import type { IUnsubscribePacket } from 'mqtt-packet';
import type { MqttConnection } from '../mqtt-connection.js';
import { classifyFilter } from '../subscription-filters.js';

/**
 * Removes the subscriptions the filters name, in whichever spelling; unknown filters are no error (MQTT 3.10.4).
 * C2D delivery stops at once and gives back what the client has not acknowledged.
 */
export function handleUnsubscribe(connection: MqttConnection, packet: IUnsubscribePacket): void {
  const session = connection.session!;
  for (const topic of packet.unsubscriptions) {
    const kind = classifyFilter(topic, connection.identity!);
    if (kind !== undefined) session.delete(kind);
    if (kind === 'c2d') connection.c2d.stop();
    if (kind === 'methods') connection.methods.stopServing();
    if (kind === 'twinDesired') connection.twinDesired.stop();
  }
  session.save().then(
    () => connection.write({ cmd: 'unsuback', messageId: packet.messageId!, granted: [] }),
    (err: unknown) => connection.close('hub-error', 'could not store the session', { err }),
  );
}
