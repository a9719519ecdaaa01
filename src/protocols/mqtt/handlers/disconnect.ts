import type { MqttConnection } from '../mqtt-connection.js';

/** [MQTT-3.14.4-3]: a DISCONNECT discards the will; the hub closes the connection. */
export function handleDisconnect(connection: MqttConnection): void {
  connection.will = undefined;
  connection.close('client-disconnect', 'the client sent DISCONNECT');
}
