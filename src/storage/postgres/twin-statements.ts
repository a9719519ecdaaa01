import type { JsonObject, TwinRecord, TwinTarget } from '../../domain/twin.js';

/** A twins row as get and list read it (not the *_query columns); pg parses the json columns, a fresh copy each time. */
export interface TwinRow {
  device_id: string;
  module_id: string;
  version: number;
  tags: JsonObject;
  desired: JsonObject;
  desired_version: number;
  desired_metadata: JsonObject;
  reported: JsonObject;
  reported_version: number;
  reported_metadata: JsonObject;
}

/** A twin's key in the table: the device's own twin has module_id ''. */
export interface TwinKey {
  deviceId: string;
  moduleId: string;
}

const COLUMNS = `device_id, module_id, version, tags, desired, desired_version, desired_metadata, reported,
                 reported_version, reported_metadata`;
// Row values compare column by column (with the columns' "C" collation), so this is the (device_id, module_id) order
// and still a range on the primary key.
const AFTER = '(device_id, module_id) > ($2, $3)';

/** Parameters $1..$13 are twinParams'; $14 is the expected version. */
export const TWIN_SQL = {
  get: `SELECT ${COLUMNS} FROM twins WHERE device_id = $1 AND module_id = $2`,
  insert: `
    INSERT INTO twins (${COLUMNS}, tags_query, desired_query, reported_query)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    ON CONFLICT (device_id, module_id) DO NOTHING`,
  replace: `
    UPDATE twins
    SET version = $3, tags = $4, desired = $5, desired_version = $6, desired_metadata = $7, reported = $8,
        reported_version = $9, reported_metadata = $10, tags_query = $11, desired_query = $12, reported_query = $13
    WHERE device_id = $1 AND module_id = $2 AND version = $14`,
  listDevices: `SELECT ${COLUMNS} FROM twins WHERE module_id = '' ORDER BY device_id LIMIT $1`,
  listDevicesAfter: `SELECT ${COLUMNS} FROM twins WHERE module_id = '' AND ${AFTER} ORDER BY device_id LIMIT $1`,
  listModules: `SELECT ${COLUMNS} FROM twins WHERE module_id <> '' ORDER BY device_id, module_id LIMIT $1`,
  listModulesAfter: `SELECT ${COLUMNS} FROM twins WHERE module_id <> '' AND ${AFTER} ORDER BY device_id, module_id LIMIT $1`,
  deleteDevice: 'DELETE FROM twins WHERE device_id = $1',
  deleteModule: 'DELETE FROM twins WHERE device_id = $1 AND module_id = $2',
} as const;

export function twinKey(target: TwinTarget): TwinKey {
  if (target.moduleId === '') throw new TypeError(`module id of device '${target.deviceId}' is empty`);
  return { deviceId: target.deviceId, moduleId: target.moduleId ?? '' };
}

/** $1..$13: the record serialised now, so later changes to it are not stored. */
export function twinParams(record: TwinRecord): unknown[] {
  const { deviceId, moduleId } = twinKey(record);
  const tags = JSON.stringify(record.tags);
  const desired = JSON.stringify(record.desired.properties);
  const reported = JSON.stringify(record.reported.properties);
  return [
    deviceId,
    moduleId,
    checkedVersion('version', record.version),
    tags,
    desired,
    checkedVersion('desired.version', record.desired.version),
    JSON.stringify(record.desired.metadata),
    reported,
    checkedVersion('reported.version', record.reported.version),
    JSON.stringify(record.reported.metadata),
    jsonbText(tags),
    jsonbText(desired),
    jsonbText(reported),
  ];
}

/** Versions are bigint columns; a fraction would only fail in the database, with a less helpful message. */
export function checkedVersion(name: string, version: number): number {
  if (!Number.isSafeInteger(version)) throw new TypeError(`twin ${name} must be a safe integer, got ${version}`);
  return version;
}

/**
 * Escapes JSON.stringify writes that jsonb refuses: "\u0000" and lone surrogates (JSON.stringify escapes exactly
 * these, and other control characters, which jsonb accepts). Matched only where the backslash starts an escape, that
 * is after an even run of backslashes.
 */
const JSONB_REFUSES = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

/** The JSON text for a *_query column: as given, with what jsonb refuses replaced by U+FFFD. */
export function jsonbText(json: string): string {
  return json.replace(JSONB_REFUSES, '$1\\ufffd');
}

export function toTwin(row: TwinRow): TwinRecord {
  return {
    deviceId: row.device_id,
    ...(row.module_id === '' ? {} : { moduleId: row.module_id }),
    version: row.version,
    tags: row.tags,
    desired: { properties: row.desired, version: row.desired_version, metadata: row.desired_metadata },
    reported: { properties: row.reported, version: row.reported_version, metadata: row.reported_metadata },
  };
}
