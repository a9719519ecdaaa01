/**
 * Device and module identities as the registry keeps them. Field names follow Azure's service API so that the
 * service REST adapter is a thin mapping.
 */
export type DeviceStatus = 'enabled' | 'disabled';
export type AuthenticationType = 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';

export interface Authentication {
  type: AuthenticationType;
  symmetricKey: { primaryKey: string | null; secondaryKey: string | null };
  x509Thumbprint: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
}

/** A device as stored. `version` drives the etag; it increases on every change. */
export interface DeviceRecord {
  deviceId: string;
  generationId: string;
  version: number;
  status: DeviceStatus;
  statusReason: string | null;
  statusUpdatedTime: string;
  authentication: Authentication;
  capabilities: { iotEdge: boolean };
  deviceScope: string | null;
  parentScopes: string[];
}

export interface ModuleRecord {
  deviceId: string;
  moduleId: string;
  generationId: string;
  version: number;
  managedBy: string | null;
  authentication: Authentication;
}

/** Azure's allowed characters for device and module ids: ASCII alphanumerics and - . + % _ # * ? ! ( ) , = @ $ ' : ; */
const ID_PATTERN = /^[A-Za-z0-9\-.+%_#*?!(),=@$':;]{1,128}$/;
export const MAX_ID_LENGTH = 128;

export function isValidIdentityId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** Azure's identity etags are base64 of a decimal counter ("MA==" is version 0). */
export function etagOf(version: number): string {
  return Buffer.from(String(version)).toString('base64');
}

/** Strips the quotes clients put around If-Match values; `*` stays `*`. */
export function normaliseIfMatch(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) return trimmed.slice(1, -1);
  return trimmed;
}

/** Real generation ids are 18-digit numbers that differ when an id is deleted and created again. */
export function newGenerationId(nowMs: number): string {
  const ticks = BigInt(nowMs) * 10000n + 621355968000000000n; // .NET ticks, as Azure's look
  const jitter = BigInt(Math.floor(Math.random() * 10000));
  return (ticks + jitter).toString();
}

export const NEVER = '0001-01-01T00:00:00Z';
