import type { IPublishPacket } from 'mqtt-packet';

/** A PUBLISH's payload as bytes (mqtt-packet hands over a string when the packet was built from one). */
export function payloadOf(packet: IPublishPacket): Buffer {
  return typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
}
