/** The protocol a client speaks, told from the first byte it sends after the TLS handshake. */
export type SniffedProtocol = 'mqtt' | 'amqp' | 'http' | 'unknown';

const MQTT_CONNECT = 0x10; // packet type 1 (CONNECT), flags 0: every MQTT session starts with it
const AMQP_A = 0x41; // "AMQP" protocol header; no HTTP method starts with "A"

export function sniffProtocol(firstByte: number): SniffedProtocol {
  if (firstByte === MQTT_CONNECT) return 'mqtt';
  if (firstByte === AMQP_A) return 'amqp';
  if (firstByte >= 0x41 && firstByte <= 0x5a) return 'http'; // request lines start with an upper-case method
  return 'unknown';
}
