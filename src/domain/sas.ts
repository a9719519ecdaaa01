import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Shared access signatures exactly as Azure IoT Hub forms them:
 * `SharedAccessSignature sr={url-encoded resource}&sig={url-encoded base64 HMAC}&se={expiry}[&skn={policy}]`.
 * The signature covers the `sr` text *as it appears in the token* (SDKs percent-encode differently, so it is never
 * decoded and re-encoded), a newline, and the `se` text.
 */
export interface SasToken {
  /** `sr` exactly as in the token, still percent-encoded: what the signature covers. */
  rawResource: string;
  /** `sr` percent-decoded: the audience. */
  resource: string;
  /** `se` text exactly as in the token. */
  rawExpiry: string;
  /** Expiry in seconds since the Unix epoch. */
  expiry: number;
  /** Signature, percent-decoded (base64 text). */
  signature: string;
  /** Policy name (`skn`) for tokens signed with a shared access policy key. */
  keyName?: string;
}

export class SasFormatError extends Error {
  override name = 'SasFormatError';
}

const PREFIX = 'SharedAccessSignature';

export function parseSasToken(text: string): SasToken {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  if (space < 0 || trimmed.slice(0, space) !== PREFIX) {
    throw new SasFormatError(`a SAS token starts with "${PREFIX} "`);
  }
  const fields = new Map<string, string>();
  for (const pair of trimmed.slice(space).trim().split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new SasFormatError(`malformed SAS token field "${pair.slice(0, 40)}"`);
    const name = pair.slice(0, eq).toLowerCase();
    if (fields.has(name)) throw new SasFormatError(`SAS token field "${name}" appears twice`);
    fields.set(name, pair.slice(eq + 1));
  }
  const rawResource = fields.get('sr');
  const rawSignature = fields.get('sig');
  const rawExpiry = fields.get('se');
  if (!rawResource || !rawSignature || !rawExpiry) throw new SasFormatError('a SAS token needs sr, sig and se');
  if (!/^\d{1,15}$/.test(rawExpiry)) throw new SasFormatError('SAS token expiry "se" is not a whole number of seconds');
  const rawKeyName = fields.get('skn');
  const token: SasToken = {
    rawResource,
    resource: decode(rawResource, 'sr'),
    rawExpiry,
    expiry: Number(rawExpiry),
    signature: decode(rawSignature, 'sig'),
  };
  if (rawKeyName !== undefined) token.keyName = decode(rawKeyName, 'skn');
  return token;
}

function decode(value: string, field: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new SasFormatError(`SAS token field "${field}" is not valid percent-encoding`);
  }
}

/** base64 HMAC-SHA256 of `{rawResource}\n{rawExpiry}` with the base64-decoded key. */
export function computeSignature(rawResource: string, rawExpiry: string, keyBase64: string): string {
  return createHmac('sha256', Buffer.from(keyBase64, 'base64')).update(`${rawResource}\n${rawExpiry}`).digest('base64');
}

/** True when one of the keys produced the token's signature. Constant-time per key. */
export function signatureMatches(token: SasToken, keysBase64: ReadonlyArray<string | null | undefined>): boolean {
  const given = Buffer.from(token.signature);
  let matched = false;
  for (const key of keysBase64) {
    if (!key) continue;
    const expected = Buffer.from(computeSignature(token.rawResource, token.rawExpiry, key));
    if (expected.length === given.length && timingSafeEqual(expected, given)) matched = true;
  }
  return matched;
}

/** Percent-encoding as the Node SDKs do it: encodeURIComponent plus !'()*. */
export function encodeResource(resource: string): string {
  return encodeURIComponent(resource).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

export interface CreateSasOptions {
  /** The resource URI before encoding, e.g. `myhub.example/devices/dev1`, or the bare host name for a hub token. */
  resource: string;
  keyBase64: string;
  /** Expiry in seconds since the Unix epoch. */
  expiry: number;
  keyName?: string;
  /** Hub-scoped service tokens carry the host name unencoded, as the service SDKs send it. Default true. */
  encode?: boolean;
}

export function createSasToken(options: CreateSasOptions): string {
  const sr = options.encode === false ? options.resource : encodeResource(options.resource);
  const se = String(Math.floor(options.expiry));
  const sig = encodeURIComponent(computeSignature(sr, se, options.keyBase64));
  const skn = options.keyName === undefined ? '' : `&skn=${encodeURIComponent(options.keyName)}`;
  return `${PREFIX} sr=${sr}&sig=${sig}&se=${se}${skn}`;
}
