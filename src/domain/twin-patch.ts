import { HubError } from './errors.js';
import type { JsonObject, JsonValue, TwinSection } from './twin.js';

/** Azure's twin limits (IoT Hub devguide, device twins); the hub may be configured larger. */
export interface TwinLimits {
  /** Bytes of JSON per section: desired and reported 32 KB, tags 8 KB. */
  maxDesiredBytes: number;
  maxReportedBytes: number;
  maxTagsBytes: number;
  /** Object nesting below the section root. */
  maxDepth: number;
}

export const DEFAULT_TWIN_LIMITS: TwinLimits = { maxDesiredBytes: 32 * 1024, maxReportedBytes: 32 * 1024, maxTagsBytes: 8 * 1024, maxDepth: 10 };

const MAX_KEY_BYTES = 1024;
const MAX_STRING_BYTES = 4096;
// Azure's integer range: -4503599627370496 to 4503599627370495.
const MAX_TWIN_INTEGER = 4503599627370495;
const MIN_TWIN_INTEGER = -4503599627370496;
// Keys may not hold '.', '$', ' ' or control characters (C0 and C1).
const BAD_KEY = /[.$ \u0000-\u001f\u007f-\u009f]/;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a patch (or a whole section) against Azure's rules for keys, values and depth. Throws ArgumentInvalid. */
export function validateTwinObject(value: unknown, what: string, maxDepth: number): asserts value is JsonObject {
  if (!isJsonObject(value)) throw invalid(`${what} must be a JSON object`);
  // The root is depth 0: Azure's own valid example nests ten objects below the section root.
  walk(value, what, 0, maxDepth);
}

function walk(object: JsonObject, path: string, depth: number, maxDepth: number): void {
  if (depth > maxDepth) throw invalid(`${path} nests deeper than ${maxDepth} levels`);
  for (const [key, value] of Object.entries(object)) {
    if (key === '' || BAD_KEY.test(key) || Buffer.byteLength(key) > MAX_KEY_BYTES) {
      throw invalid(`${path}: the key ${JSON.stringify(key)} is not allowed (1 KB at most, no '.', '$', space or control characters)`);
    }
    checkValue(value, `${path}.${key}`, depth, maxDepth);
  }
}

function checkValue(value: JsonValue, path: string, depth: number, maxDepth: number): void {
  if (typeof value === 'string' && Buffer.byteLength(value) > MAX_STRING_BYTES) throw invalid(`${path}: strings are 4 KB at most`);
  if (typeof value === 'number' && (!Number.isFinite(value) || (Number.isInteger(value) && (value > MAX_TWIN_INTEGER || value < MIN_TWIN_INTEGER)))) {
    throw invalid(`${path}: the number is out of range`);
  }
  if (Array.isArray(value)) for (const [i, item] of value.entries()) checkValue(item, `${path}[${i}]`, depth + 1, maxDepth);
  else if (isJsonObject(value)) walk(value, path, depth + 1, maxDepth);
}

/** JSON merge patch (RFC 7396) of objects: null deletes, objects merge, everything else replaces. Returns a new object. */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else if (isJsonObject(value)) result[key] = mergePatch(isJsonObject(result[key]) ? result[key] : {}, value);
    else result[key] = value;
  }
  return result;
}

/**
 * The section after a patch: properties merged, version + 1, and `$metadata` updated along every patched path:
 * `$lastUpdated` (and for desired `$lastUpdatedVersion`) on each object level touched and on each leaf written.
 */
export function patchSection(section: TwinSection, patch: JsonObject, at: string, withVersions: boolean): TwinSection {
  const version = section.version + 1;
  const stamp = stampOf(at, withVersions ? version : undefined);
  return { properties: mergePatch(section.properties, patch), version, metadata: patchMetadata(section.metadata, patch, stamp) };
}

/** A section replaced wholesale (PUT): every property stamped now. */
export function replaceSection(section: TwinSection, properties: JsonObject, at: string, withVersions: boolean): TwinSection {
  const version = section.version + 1;
  const stamp = stampOf(at, withVersions ? version : undefined);
  return { properties: structuredClone(properties), version, metadata: patchMetadata({}, properties, stamp) };
}

function stampOf(at: string, version: number | undefined): JsonObject {
  return version === undefined ? { $lastUpdated: at } : { $lastUpdated: at, $lastUpdatedVersion: version };
}

function patchMetadata(metadata: JsonObject, patch: JsonObject, stamp: JsonObject): JsonObject {
  const result: JsonObject = { ...metadata, ...stamp };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else if (isJsonObject(value)) result[key] = patchMetadata(isJsonObject(metadata[key]) ? metadata[key] : {}, value, stamp);
    else result[key] = { ...stamp };
  }
  return result;
}

/**
 * What a device that merges patches must be told when `previous` is replaced by `next`: `next`, plus `null` for
 * every key (at any depth) that `next` no longer has.
 */
export function replacementPatch(previous: JsonObject, next: JsonObject): JsonObject {
  const patch: JsonObject = structuredClone(next);
  for (const [key, old] of Object.entries(previous)) {
    const now = next[key];
    if (now === undefined) patch[key] = null;
    else if (isJsonObject(old) && isJsonObject(now)) patch[key] = replacementPatch(old, now);
  }
  return patch;
}

/** Bytes of a section as Azure bounds it (its JSON, without `$version` and `$metadata`). */
export function sectionBytes(properties: JsonObject): number {
  return Buffer.byteLength(JSON.stringify(properties));
}

function invalid(message: string): HubError {
  return new HubError('ArgumentInvalid', message);
}
