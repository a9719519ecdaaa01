/**
 * Bus subjects are opaque strings; NATS subjects are dot-separated tokens that may not hold whitespace, `*` or `>`
 * (and some servers dislike much else). Each dot-separated part of a bus subject becomes one NATS token, so the hub's
 * own structure (`methods.call.<identity key>`) stays visible to `nats sub`: bytes outside [A-Za-z0-9_-] of the
 * part's UTF-8 become `%XX`, and an empty part becomes a lone `%`, which no non-empty part encodes to.
 * The mapping is one-to-one, so `dev.1` and `dev%2E1` never meet on the wire.
 */

const SAFE = /^[A-Za-z0-9_-]+$/;
const EMPTY_PART = '%';

export function encodeSubject(subject: string): string {
  return subject.split('.').map(encodePart).join('.');
}

/** The bus subject `encodeSubject` made `encoded` from; throws on anything it cannot have made. */
export function decodeSubject(encoded: string): string {
  return encoded.split('.').map(decodePart).join('.');
}

/** A subject prefix of plain tokens (`lazuli`, `lazuli.hub-1`), so hubs sharing a NATS server never meet. */
export function checkPrefix(prefix: string): string {
  if (!prefix.split('.').every((token) => SAFE.test(token))) {
    throw new Error(`NATS subject prefix ${JSON.stringify(prefix)} must be dot-separated tokens of [A-Za-z0-9_-]`);
  }
  return prefix;
}

function encodePart(part: string): string {
  if (part === '') return EMPTY_PART;
  if (SAFE.test(part)) return part;
  let out = '';
  for (const byte of Buffer.from(part, 'utf8')) {
    out += isSafeByte(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decodePart(token: string): string {
  if (token === EMPTY_PART) return '';
  const part = Buffer.from(
    token.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
  // Only what encodePart yields decodes: no lowercase hex, no escaped safe bytes, no stray `%`, valid UTF-8.
  if (encodePart(part) !== token) throw new Error(`${JSON.stringify(token)} is no encoded subject part`);
  return part;
}

function isSafeByte(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x5f || byte === 0x2d
  );
}
