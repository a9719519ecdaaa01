import { keepLast } from './keep-last.js';
import { TELEMETRY_ANNOTATIONS as A, type HubMessage } from './message.js';

/**
 * How a HubMessage is kept in the telemetry log: a 4-byte big-endian header length, the header (properties,
 * application properties and annotations) as JSON, then the body bytes unchanged. What the hub stamps goes in the
 * header's `c` member, in short form (see STAMP_CODES): the full names and the auth-method JSON were ~200 of the ~440
 * header bytes of every event, and bytes written are most of what an append costs. Headers without `c` (written
 * before) decode as they always did.
 */
export function encodeMessage(m: HubMessage): Buffer {
  const header = Buffer.from(JSON.stringify({ p: m.properties, a: m.applicationProperties, n: m.annotations }));
  const out = Buffer.allocUnsafe(4 + header.length + m.body.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  m.body.copy(out, 4 + header.length);
  return out;
}

/** What encodeStampedMessage writes for a message without properties, application properties or annotations. */
const BARE_HEADER = '{"p":{},"a":{},"n":{}';

/**
 * The same encoding for a message the hub stamps as it stores it (`stamp` from stampOf, `enqueuedTime` last). The
 * stamp is kept as bytes and the header of a message that carries nothing but a body is a constant: most telemetry
 * is that, and building and encoding the header text was a tenth of what the hub spent per message.
 */
export function encodeStampedMessage(m: HubMessage, stamp: MessageStamp, enqueuedTime: number): Buffer {
  const own = ownHeader(m, stamp.replaced);
  const time = timeText(enqueuedTime);
  const head = own === BARE_HEADER ? stamp.bare : undefined;
  const headerLength = (head ? head.length : Buffer.byteLength(own) + stamp.bytes.length) + time.length + 2;
  const out = Buffer.allocUnsafe(4 + headerLength + m.body.length);
  out.writeUInt32BE(headerLength, 0);
  let at = 4;
  if (head) {
    out.set(head, at);
    at += head.length;
  } else {
    at += out.write(own, at, 'utf8');
    out.set(stamp.bytes, at);
    at += stamp.bytes.length;
  }
  for (let i = 0; i < time.length; i++) out[at++] = time.charCodeAt(i); // digits (and '-'): ASCII
  out[at++] = 0x7d; // }} closes the stamp and the header
  out[at++] = 0x7d;
  out.set(m.body, at);
  return out;
}

const timeText = keepLast(String);

/** The header up to the stamp: `{"p":…,"a":…,"n":{…}`, without the annotations the stamp owns. */
function ownHeader(m: HubMessage, replaced: ReadonlySet<string>): string {
  let own = '';
  for (const key in m.annotations) {
    if (!replaced.has(key)) own += `${JSON.stringify(key)}:${JSON.stringify(m.annotations[key])},`;
  }
  if (own === '' && isEmpty(m.properties) && isEmpty(m.applicationProperties)) return BARE_HEADER;
  return `{"p":${JSON.stringify(m.properties)},"a":${JSON.stringify(m.applicationProperties)},"n":{${own.slice(0, -1)}}`;
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

export function decodeMessage(payload: Buffer): HubMessage {
  if (payload.length < 4) throw new Error('stored message is truncated');
  const headerLength = payload.readUInt32BE(0);
  if (4 + headerLength > payload.length) throw new Error('stored message header is truncated');
  const header = JSON.parse(payload.subarray(4, 4 + headerLength).toString('utf8')) as {
    p: HubMessage['properties'];
    a: HubMessage['applicationProperties'];
    n: HubMessage['annotations'];
    c?: Record<string, unknown>;
  };
  const annotations = header.c === undefined ? header.n : expandStamp(header.n, header.c);
  return { properties: header.p, applicationProperties: header.a, annotations, body: payload.subarray(4 + headerLength) };
}

/** What the hub stamps on every message of one identity. */
export interface StampFields {
  deviceId: string;
  moduleId?: string;
  authScope: string;
  authType: string;
  generationId: string;
  modelId?: string;
}

/** The short names of the stamped annotations in a stored header's `c` member. */
const STAMP_CODES = {
  [A.deviceId]: 'd',
  [A.moduleId]: 'm',
  [A.authMethod]: 'a',
  [A.authGenerationId]: 'g',
  [A.messageSource]: 's',
  [A.modelId]: 'y',
  [A.enqueuedTime]: 't',
} as const;
const STAMP_NAMES = new Map<string, string>(Object.entries(STAMP_CODES).map(([name, code]) => [code, name]));
/** `iothub-message-source` of telemetry, the only source stamped so far, is stored as 0. */
const TELEMETRY_SOURCE = 'Telemetry';

/** IoT Hub's `iothub-connection-auth-method` value. */
export function authMethodValue(scope: string, type: string): string {
  return JSON.stringify({ scope, type, issuer: 'iothub', acceptingIpFilterRule: null });
}

/** The few scope and type pairs there are, each formatted once: every event read back carries one. */
const authMethodValues = new Map<string, string>();

function cachedAuthMethodValue(scope: string, type: string): string {
  const key = `${scope}\n${type}`;
  let value = authMethodValues.get(key);
  if (value === undefined) {
    value = authMethodValue(scope, type);
    if (authMethodValues.size < 64) authMethodValues.set(key, value);
  }
  return value;
}

/** What the hub stamps on every message of one identity, ready for encodeStampedMessage. */
export interface MessageStamp {
  /** `,"c":{` and the stamp's members in short form, up to the enqueued time's name (`…,"t":`), as UTF-8. */
  bytes: Buffer;
  /** The whole header of a message with nothing but a body, up to the enqueued time. */
  bare: Buffer;
  /** The annotation names the stamp owns: a message's own annotations may not set them. */
  replaced: ReadonlySet<string>;
}

export function stampOf(fields: StampFields): MessageStamp {
  const members: Record<string, unknown> = { [STAMP_CODES[A.deviceId]]: fields.deviceId };
  if (fields.moduleId !== undefined) members[STAMP_CODES[A.moduleId]] = fields.moduleId;
  members[STAMP_CODES[A.authMethod]] = [fields.authScope, fields.authType];
  members[STAMP_CODES[A.authGenerationId]] = fields.generationId;
  members[STAMP_CODES[A.messageSource]] = 0;
  if (fields.modelId) members[STAMP_CODES[A.modelId]] = fields.modelId;
  const json = JSON.stringify(members);
  // A device may not set what the hub stamps; the module id only a module's connection sets.
  const replaced = new Set<string>([A.deviceId, A.moduleId, A.authMethod, A.authGenerationId, A.messageSource, A.enqueuedTime]);
  if (fields.modelId) replaced.add(A.modelId);
  const bytes = Buffer.from(`,"c":{${json.slice(1, -1)},"${STAMP_CODES[A.enqueuedTime]}":`);
  return { bytes, bare: Buffer.concat([Buffer.from(BARE_HEADER), bytes]), replaced };
}

function expandStamp(own: HubMessage['annotations'], compact: Record<string, unknown>): HubMessage['annotations'] {
  const annotations: HubMessage['annotations'] = { ...own };
  for (const code in compact) {
    const name = STAMP_NAMES.get(code);
    if (name === undefined) throw new Error(`stored message has an unknown stamp member "${code}"`);
    const value = compact[code];
    if (name === A.authMethod) {
      const [scope, type] = value as [string, string];
      annotations[name] = cachedAuthMethodValue(scope, type);
    } else if (name === A.messageSource) annotations[name] = TELEMETRY_SOURCE;
    else annotations[name] = value as string | number;
  }
  return annotations;
}
