import type { Packet } from 'mqtt-packet';
import type { MqttConnection } from '../mqtt-connection.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePingreq } from './pingreq.js';
import { handlePublish } from './publish.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

/** Routes a packet to its handler. Packets a client never sends to a server close the connection. */
export function dispatchPacket(connection: MqttConnection, packet: Packet): void {
  if (connection.state === 'awaiting-connect') {
    // [MQTT-3.1.0-1]: the first packet from the client must be CONNECT.
    if (packet.cmd === 'connect') handleConnect(connection, packet).catch((err: unknown) => connection.failed(err, 'connect'));
    else connection.close('protocol-error', `the first packet was ${packet.cmd}, not CONNECT`);
    return;
  }
  switch (packet.cmd) {
    case 'publish':
      return handlePublish(connection, packet);
    case 'subscribe':
      return handleSubscribe(connection, packet);
    case 'unsubscribe':
      return handleUnsubscribe(connection, packet);
    case 'pingreq':
      return handlePingreq(connection);
    case 'disconnect':
      return handleDisconnect(connection);
    case 'puback':
      return connection.c2d.acknowledged(packet.messageId!);
    case 'connect':
      // [MQTT-3.1.0-2]
      return connection.close('protocol-error', 'a second CONNECT on the connection');
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return connection.close('protocol-error', `${packet.cmd}: IoT Hub does not support QoS 2`);
    default:
      return connection.close('protocol-error', `a ${packet.cmd} packet, which only a server sends`);
  }
}
