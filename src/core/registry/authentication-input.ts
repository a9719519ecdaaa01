import { HubError } from '../../domain/errors.js';
import type { Authentication, AuthenticationType } from '../../domain/identity.js';
import { generateKey, isValidSymmetricKey, MAX_KEY_BYTES, MIN_KEY_BYTES } from '../../domain/keys.js';

const TYPES: readonly AuthenticationType[] = ['sas', 'selfSigned', 'certificateAuthority', 'none'];
const THUMBPRINT = /^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/;

/**
 * Turns the `authentication` object of a device or module body into what the registry stores. As Azure does, a
 * missing object or empty keys mean "generate keys", and the type defaults to selfSigned when a thumbprint is given.
 */
export function parseAuthentication(value: unknown): Authentication {
  if (value !== undefined && value !== null && !isObject(value)) invalid('authentication must be an object');
  const input = (value ?? {}) as Record<string, unknown>;
  const symmetric = optionalObject(input.symmetricKey, 'authentication.symmetricKey');
  const thumbs = optionalObject(input.x509Thumbprint, 'authentication.x509Thumbprint');
  const primaryKey = optionalString(symmetric.primaryKey, 'symmetricKey.primaryKey');
  const secondaryKey = optionalString(symmetric.secondaryKey, 'symmetricKey.secondaryKey');
  const primaryThumbprint = optionalString(thumbs.primaryThumbprint, 'x509Thumbprint.primaryThumbprint');
  const secondaryThumbprint = optionalString(thumbs.secondaryThumbprint, 'x509Thumbprint.secondaryThumbprint');

  let type = input.type;
  if (type === undefined || type === null) type = primaryThumbprint || secondaryThumbprint ? 'selfSigned' : 'sas';
  if (typeof type !== 'string' || !TYPES.includes(type as AuthenticationType)) {
    invalid(`authentication.type must be one of ${TYPES.join(', ')}`);
  }
  const noThumbprints = { primaryThumbprint: null, secondaryThumbprint: null };
  const noKeys = { primaryKey: null, secondaryKey: null };

  switch (type as AuthenticationType) {
    case 'sas': {
      if (primaryThumbprint || secondaryThumbprint) invalid('a sas identity cannot carry x509 thumbprints');
      if (!primaryKey && !secondaryKey) {
        return { type: 'sas', symmetricKey: { primaryKey: generateKey(), secondaryKey: generateKey() }, x509Thumbprint: noThumbprints };
      }
      if (!primaryKey || !secondaryKey) invalid('give both symmetric keys, or neither to have them generated');
      for (const key of [primaryKey, secondaryKey]) {
        if (!isValidSymmetricKey(key)) {
          invalid(`symmetric keys must be base64 of ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes`);
        }
      }
      return { type: 'sas', symmetricKey: { primaryKey, secondaryKey }, x509Thumbprint: noThumbprints };
    }
    case 'selfSigned': {
      if (primaryKey || secondaryKey) invalid('a selfSigned identity cannot carry symmetric keys');
      if (!primaryThumbprint) invalid('a selfSigned identity needs x509Thumbprint.primaryThumbprint');
      for (const t of [primaryThumbprint, secondaryThumbprint]) {
        if (t && !THUMBPRINT.test(t)) invalid('x509 thumbprints are SHA-1 (40) or SHA-256 (64) hex digits');
      }
      return {
        type: 'selfSigned',
        symmetricKey: noKeys,
        x509Thumbprint: { primaryThumbprint: primaryThumbprint.toUpperCase(), secondaryThumbprint: secondaryThumbprint ? secondaryThumbprint.toUpperCase() : null },
      };
    }
    default:
      if (primaryKey || secondaryKey || primaryThumbprint || secondaryThumbprint) {
        invalid(`a ${String(type)} identity carries neither symmetric keys nor thumbprints`);
      }
      return { type: type as AuthenticationType, symmetricKey: noKeys, x509Thumbprint: noThumbprints };
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalObject(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) invalid(`${name} must be an object`);
  return v;
}

function optionalString(v: unknown, name: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') invalid(`${name} must be a string`);
  return v;
}

export function invalid(message: string): never {
  throw new HubError('ArgumentInvalid', message);
}
