/**
 * The property bag IoT Hub puts at the end of MQTT topics: `key=value` pairs joined by `&`, keys and values
 * percent-encoded. A bare `key` carries a null value and `key=` an empty string. Only percent-decoding applies:
 * `+` is a plus, never a space (the Python SDK avoids `+` for exactly that reason). `$` arrives as `%24` from the
 * Node and Python SDKs and raw from others; both decode to the same key.
 */
export type PropertyBagEntry = readonly [key: string, value: string | null];

export class PropertyBagError extends Error {
  override name = 'PropertyBagError';
}

/** Entries in topic order. Empty pairs (`a=1&&b=2`, a trailing `&`) are skipped; a pair with no name is an error. */
export function decodePropertyBag(text: string): PropertyBagEntry[] {
  const entries: PropertyBagEntry[] = [];
  if (text === '') return entries; // most telemetry: no properties
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    if (rawKey === '') throw new PropertyBagError(`property "${excerpt(pair)}" has no name`);
    entries.push([decode(rawKey, pair), eq < 0 ? null : decode(pair.slice(eq + 1), pair)]);
  }
  return entries;
}

/** The inverse of decodePropertyBag; everything but unreserved characters is percent-encoded. */
export function encodePropertyBag(entries: Iterable<PropertyBagEntry>): string {
  const pairs: string[] = [];
  for (const [key, value] of entries) {
    if (key === '') throw new TypeError('a property bag key cannot be empty');
    pairs.push(value === null ? encodeBagText(key) : `${encodeBagText(key)}=${encodeBagText(value)}`);
  }
  return pairs.join('&');
}

function decode(text: string, pair: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new PropertyBagError(`property "${excerpt(pair)}" is not valid percent-encoding`);
  }
}

/** One key or value of a bag, percent-encoded: everything but unreserved characters. */
export function encodeBagText(text: string): string {
  // Most keys and values need nothing; the test is cheaper than encoding and replacing.
  if (UNRESERVED.test(text)) return text;
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

function excerpt(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
