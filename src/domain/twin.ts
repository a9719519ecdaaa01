/**
 * Device and module twins as the hub keeps them: tags, desired and reported properties, each section with its own
 * `$version` and per-property `$metadata`, and a twin `version` that counts every change (its etag).
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface TwinTarget {
  deviceId: string;
  moduleId?: string;
}

/** One of the twin's property sections, as stored: the properties, their version and their metadata. */
export interface TwinSection {
  /** The properties, without `$version` and `$metadata`. */
  properties: JsonObject;
  /** Starts at 1; +1 for every accepted patch of this section. */
  version: number;
  /**
   * Mirrors `properties`: every object level has `$lastUpdated` (ISO 8601, milliseconds) and, for desired,
   * `$lastUpdatedVersion`; leaves are `{ "$lastUpdated", ["$lastUpdatedVersion"] }`.
   */
  metadata: JsonObject;
}

export interface TwinRecord extends TwinTarget {
  /** Starts at 1; +1 on every change of tags, desired or reported. The etag is derived from it. */
  version: number;
  tags: JsonObject;
  desired: TwinSection;
  reported: TwinSection;
}

/** Azure's twin etags are base64 of an 8-byte big-endian counter ("AAAAAAAAAAE=" is version 1). */
export function twinEtagOf(version: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(version));
  return bytes.toString('base64');
}

/** The version an etag names, or undefined when it is not one of ours. */
export function versionOfTwinEtag(etag: string): number | undefined {
  const bytes = Buffer.from(etag, 'base64');
  if (bytes.length !== 8 || bytes.toString('base64') !== etag) return undefined;
  const version = bytes.readBigUInt64BE();
  return version <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(version) : undefined;
}
