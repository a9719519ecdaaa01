import { PacketType, type Frame } from './mqtt-frames.js';

/** The topic of a PUBLISH frame (its first field), without decoding the rest. */
export function publishTopic(frame: Frame): string {
  return frame.body.toString('utf8', 2, 2 + frame.body.readUInt16BE(0));
}

/** The payload of a PUBLISH frame whose topic `publishTopic` read: after the topic, and the packet id at QoS > 0. */
export function publishPayload(frame: Frame): Buffer {
  const qos = (frame.flags >> 1) & 0x03;
  return frame.body.subarray(2 + frame.body.readUInt16BE(0) + (qos > 0 ? 2 : 0));
}

/** A QoS 0 PUBLISH, encoded by hand: a load client cannot afford a general encoder per request. */
export function qos0Publish(topic: string, payload: string | Buffer): Buffer {
  const topicBytes = Buffer.byteLength(topic);
  const payloadBytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const remaining = 2 + topicBytes + payloadBytes;
  const lengthBytes = remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = PacketType.publish << 4;
  let at = 1;
  for (let rest = remaining; ; ) {
    const byte = rest % 0x80;
    rest = Math.floor(rest / 0x80);
    out[at++] = rest > 0 ? byte | 0x80 : byte;
    if (rest === 0) break;
  }
  out.writeUInt16BE(topicBytes, at);
  at += 2;
  at += out.write(topic, at, 'utf8');
  if (typeof payload === 'string') out.write(payload, at, 'utf8');
  else payload.copy(out, at);
  return out;
}

/** The value of `name` in a topic's `?a=b&c=d` tail, raw (rids here are digits); undefined when absent. */
export function topicParam(topic: string, name: string): string | undefined {
  const query = topic.indexOf('?');
  if (query < 0) return undefined;
  for (const pair of topic.slice(query + 1).split('&')) {
    if (pair.startsWith(name) && pair[name.length] === '=') return pair.slice(name.length + 1);
  }
  return undefined;
}

export const TWIN_RESPONSE_PREFIX = '$iothub/twin/res/';
export const METHOD_REQUEST_PREFIX = '$iothub/methods/POST/';

/** `$iothub/twin/res/{status}/?$rid={rid}[&$version={n}]`, read. */
export interface TwinResponse {
  status: number;
  rid: string | undefined;
  version: number | undefined;
}

export function parseTwinResponseTopic(topic: string): TwinResponse {
  const status = Number(topic.slice(TWIN_RESPONSE_PREFIX.length, topic.indexOf('/', TWIN_RESPONSE_PREFIX.length)));
  const version = topicParam(topic, '$version');
  return { status, rid: topicParam(topic, '$rid'), version: version === undefined ? undefined : Number(version) };
}

export function reportedPatchTopic(rid: string): string {
  return `$iothub/twin/PATCH/properties/reported/?$rid=${rid}`;
}

export function methodResponseTopic(status: number, rid: string): string {
  return `$iothub/methods/res/${status}/?$rid=${rid}`;
}
