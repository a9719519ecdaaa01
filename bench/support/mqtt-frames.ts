/** MQTT control packet types (the high nibble of the first byte). */
export const PacketType = { connack: 2, publish: 3, puback: 4, suback: 9, pingresp: 13 } as const;

/** One whole MQTT packet: its type, the flags nibble, and what follows the fixed header. */
export interface Frame {
  type: number;
  flags: number;
  body: Buffer;
}

/**
 * Splits a byte stream into MQTT packets without decoding them: a load client reads only what it needs (a PUBLISH's
 * packet id and payload), which keeps the client far cheaper than the broker it measures.
 */
export class MqttFramer {
  private rest: Buffer | undefined;

  /** Calls `onFrame` for every packet the chunk completes; a partial packet waits for the next chunk. */
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      let length = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      for (; i < buf.length && i < at + 5; i++) {
        const byte = buf[i]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete) {
        if (i >= at + 5) throw new Error('malformed MQTT remaining length');
        break;
      }
      if (buf.length - i < length) break;
      const first = buf[at]!;
      onFrame({ type: first >> 4, flags: first & 0x0f, body: buf.subarray(i, i + length) });
      at = i + length;
    }
    this.rest = at < buf.length ? Buffer.from(buf.subarray(at)) : undefined;
  }
}

/** A PUBLISH body split into packet id (QoS > 0; otherwise undefined) and payload; the topic is skipped. */
export function publishParts(frame: Frame): { packetId: number | undefined; payload: Buffer } {
  const qos = (frame.flags >> 1) & 0x03;
  let at = 2 + frame.body.readUInt16BE(0);
  let packetId: number | undefined;
  if (qos > 0) {
    packetId = frame.body.readUInt16BE(at);
    at += 2;
  }
  return { packetId, payload: frame.body.subarray(at) };
}

/** PUBACKs for these packet ids, back to back in one buffer (one write, one TLS record). */
export function pubacks(packetIds: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(4 * packetIds.length);
  packetIds.forEach((id, k) => {
    out[4 * k] = PacketType.puback << 4;
    out[4 * k + 1] = 2;
    out.writeUInt16BE(id, 4 * k + 2);
  });
  return out;
}
