import type { MqttConnection } from '../mqtt-connection.js';

/** [MQTT-3.12.4-1]: answer PINGREQ with PINGRESP. Receiving it already counted for the keep-alive. */
export function handlePingreq(connection: MqttConnection): void {
  connection.write({ cmd: 'pingresp' });
}
