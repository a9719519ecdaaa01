import type { HubMessage } from './message.js';

/**
 * How a HubMessage is kept in the telemetry log: a 4-byte big-endian header length, the header (properties,
 * application properties and annotations) as JSON, then the body bytes unchanged.
 */
export function encodeMessage(m: HubMessage): Buffer {
  const header = Buffer.from(JSON.stringify({ p: m.properties, a: m.applicationProperties, n: m.annotations }));
  const out = Buffer.allocUnsafe(4 + header.length + m.body.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  m.body.copy(out, 4 + header.length);
  return out;
}

/**
 * The same encoding for a message the hub stamps as it stores it. `stampJson` holds the stamped annotations as
 * JSON members (`"k":v,...`), written after the message's own so they win; `replaced` lists the annotation names
 * the stamp owns, which the message's own annotations may not set. Building the header as text skips a copy of
 * every message and its annotations on the hot path.
 */
export function encodeStampedMessage(m: HubMessage, stampJson: string, replaced: ReadonlySet<string>): Buffer {
  let own = '';
  for (const key in m.annotations) {
    if (!replaced.has(key)) own += `${JSON.stringify(key)}:${JSON.stringify(m.annotations[key])},`;
  }
  const header = `{"p":${JSON.stringify(m.properties)},"a":${JSON.stringify(m.applicationProperties)},"n":{${own}${stampJson}}}`;
  const headerLength = Buffer.byteLength(header);
  const out = Buffer.allocUnsafe(4 + headerLength + m.body.length);
  out.writeUInt32BE(headerLength, 0);
  out.write(header, 4, 'utf8');
  m.body.copy(out, 4 + headerLength);
  return out;
}

export function decodeMessage(payload: Buffer): HubMessage {
  if (payload.length < 4) throw new Error('stored message is truncated');
  const headerLength = payload.readUInt32BE(0);
  if (4 + headerLength > payload.length) throw new Error('stored message header is truncated');
  const header = JSON.parse(payload.subarray(4, 4 + headerLength).toString('utf8')) as {
    p: HubMessage['properties'];
    a: HubMessage['applicationProperties'];
    n: HubMessage['annotations'];
  };
  return { properties: header.p, applicationProperties: header.a, annotations: header.n, body: payload.subarray(4 + headerLength) };
}
