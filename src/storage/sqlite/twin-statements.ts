import type { JsonObject, TwinRecord, TwinTarget } from '../../domain/twin.js';
import type { SqliteDatabase } from './database.js';

export interface TwinRow {
  device_id: string;
  module_id: string;
  version: number;
  tags: string;
  desired: string;
  desired_version: number;
  desired_metadata: string;
  reported: string;
  reported_version: number;
  reported_metadata: string;
}

/** A twin's key in the table: the device's own twin has module_id ''. */
export interface TwinKey {
  deviceId: string;
  moduleId: string;
}

export type TwinParams = ReturnType<typeof twinParams>;

/** Every statement of the SQLite twin store, prepared once per connection (schema: migration 5). */
export function prepareTwinStatements(db: SqliteDatabase) {
  const twins = <P extends unknown[] | object>(sql: string) => db.prepare<P, TwinRow>(sql);
  const columns = `device_id, module_id, version, tags, desired, desired_version, desired_metadata, reported,
                   reported_version, reported_metadata`;
  // Row values compare column by column, so "after" is the (device_id, module_id) order and still a range on the
  // primary key.
  const after = '(device_id, module_id) > (@deviceId, @moduleId)';
  return {
    get: twins<[string, string]>('SELECT * FROM twins WHERE device_id = ? AND module_id = ?'),
    insert: db.prepare<[TwinParams]>(
      `INSERT INTO twins (${columns})
       VALUES (@deviceId, @moduleId, @version, @tags, @desired, @desiredVersion, @desiredMetadata, @reported,
               @reportedVersion, @reportedMetadata)
       ON CONFLICT (device_id, module_id) DO NOTHING`,
    ),
    replace: db.prepare<[TwinParams & { expectedVersion: number }]>(
      `UPDATE twins
       SET version = @version, tags = @tags, desired = @desired, desired_version = @desiredVersion,
           desired_metadata = @desiredMetadata, reported = @reported, reported_version = @reportedVersion,
           reported_metadata = @reportedMetadata
       WHERE device_id = @deviceId AND module_id = @moduleId AND version = @expectedVersion`,
    ),
    listDevices: twins<[{ limit: number }]>(`SELECT * FROM twins WHERE module_id = '' ORDER BY device_id LIMIT @limit`),
    listDevicesAfter: twins<[TwinKey & { limit: number }]>(
      `SELECT * FROM twins WHERE module_id = '' AND ${after} ORDER BY device_id LIMIT @limit`,
    ),
    listModules: twins<[{ limit: number }]>(
      `SELECT * FROM twins WHERE module_id <> '' ORDER BY device_id, module_id LIMIT @limit`,
    ),
    listModulesAfter: twins<[TwinKey & { limit: number }]>(
      `SELECT * FROM twins WHERE module_id <> '' AND ${after} ORDER BY device_id, module_id LIMIT @limit`,
    ),
    deleteDevice: db.prepare<[string]>('DELETE FROM twins WHERE device_id = ?'),
    deleteModule: db.prepare<[string, string]>('DELETE FROM twins WHERE device_id = ? AND module_id = ?'),
  };
}

export type TwinStatements = ReturnType<typeof prepareTwinStatements>;

export function twinKey(target: TwinTarget): TwinKey {
  if (target.moduleId === '') throw new TypeError(`module id of device '${target.deviceId}' is empty`);
  return { deviceId: target.deviceId, moduleId: target.moduleId ?? '' };
}

/** The record as the table's columns: the JSON documents serialised now, so later changes to it are not stored. */
export function twinParams(record: TwinRecord) {
  return {
    ...twinKey(record),
    version: checkedVersion('version', record.version),
    tags: JSON.stringify(record.tags),
    desired: JSON.stringify(record.desired.properties),
    desiredVersion: checkedVersion('desired.version', record.desired.version),
    desiredMetadata: JSON.stringify(record.desired.metadata),
    reported: JSON.stringify(record.reported.properties),
    reportedVersion: checkedVersion('reported.version', record.reported.version),
    reportedMetadata: JSON.stringify(record.reported.metadata),
  };
}

/** Versions are INTEGER columns of a STRICT table; a fraction would only fail later, inside a group commit. */
export function checkedVersion(name: string, version: number): number {
  if (!Number.isSafeInteger(version)) throw new TypeError(`twin ${name} must be a safe integer, got ${version}`);
  return version;
}

/** A freshly parsed record, so every caller gets its own copy. */
export function toTwin(row: TwinRow): TwinRecord {
  return {
    deviceId: row.device_id,
    ...(row.module_id === '' ? {} : { moduleId: row.module_id }),
    version: row.version,
    tags: JSON.parse(row.tags) as JsonObject,
    desired: {
      properties: JSON.parse(row.desired) as JsonObject,
      version: row.desired_version,
      metadata: JSON.parse(row.desired_metadata) as JsonObject,
    },
    reported: {
      properties: JSON.parse(row.reported) as JsonObject,
      version: row.reported_version,
      metadata: JSON.parse(row.reported_metadata) as JsonObject,
    },
  };
}
