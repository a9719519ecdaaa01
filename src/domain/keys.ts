import { randomBytes } from 'node:crypto';

/** Azure accepts symmetric keys that are base64 of 16 to 64 bytes. */
export const MIN_KEY_BYTES = 16;
export const MAX_KEY_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function generateKey(bytes = 32): string {
  return randomBytes(bytes).toString('base64');
}

/** True when the text is canonical base64 of a key Azure would accept. */
export function isValidSymmetricKey(key: string): boolean {
  if (key.length % 4 !== 0 || !BASE64.test(key)) return false;
  const bytes = Buffer.from(key, 'base64');
  return bytes.length >= MIN_KEY_BYTES && bytes.length <= MAX_KEY_BYTES && bytes.toString('base64') === key;
}
