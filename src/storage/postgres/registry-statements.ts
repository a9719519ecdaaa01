import type { DeviceRecord, ModuleRecord } from '../../domain/identity.js';
import { deviceOfRow, moduleOfRow, type DeviceColumns, type ModuleColumns } from '../registry-rows.js';

/** A devices / modules row; the json columns come back parsed (pg parses json), a fresh copy per query. */
export type DeviceRow = DeviceColumns<unknown>;
export type ModuleRow = ModuleColumns<unknown>;

const parsed = (value: unknown): unknown => value;

// The guard `$n::bigint IS NULL OR version = $n` lets a null expected version match any version.
export const REGISTRY_SQL = {
  insertDevice: `
    INSERT INTO devices (device_id, generation_id, version, status, status_reason, status_updated_time,
                         authentication, capabilities, device_scope, parent_scopes)
    VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (device_id) DO NOTHING
    RETURNING *`,
  getDevice: 'SELECT * FROM devices WHERE device_id = $1',
  deviceVersion: 'SELECT version FROM devices WHERE device_id = $1',
  updateDevice: `
    UPDATE devices
    SET status = $3, status_reason = $4, status_updated_time = $5, authentication = $6, capabilities = $7,
        device_scope = $8, parent_scopes = $9, version = version + 1
    WHERE device_id = $1 AND ($2::bigint IS NULL OR version = $2)
    RETURNING *`,
  deleteDevice: 'DELETE FROM devices WHERE device_id = $1 AND ($2::bigint IS NULL OR version = $2)',
  listDevices: 'SELECT * FROM devices ORDER BY device_id LIMIT $1',
  listDevicesAfter: 'SELECT * FROM devices WHERE device_id > $2 ORDER BY device_id LIMIT $1',
  countDevices: `
    SELECT count(*)::integer AS total,
           (count(*) FILTER (WHERE status = 'enabled'))::integer AS enabled,
           (count(*) FILTER (WHERE status = 'disabled'))::integer AS disabled
    FROM devices`,

  insertModule: `
    INSERT INTO modules (device_id, module_id, generation_id, version, managed_by, authentication)
    VALUES ($1, $2, $3, 1, $4, $5)
    ON CONFLICT (device_id, module_id) DO NOTHING
    RETURNING *`,
  getModule: 'SELECT * FROM modules WHERE device_id = $1 AND module_id = $2',
  moduleVersion: 'SELECT version FROM modules WHERE device_id = $1 AND module_id = $2',
  updateModule: `
    UPDATE modules SET managed_by = $4, authentication = $5, version = version + 1
    WHERE device_id = $1 AND module_id = $2 AND ($3::bigint IS NULL OR version = $3)
    RETURNING *`,
  deleteModule: 'DELETE FROM modules WHERE device_id = $1 AND module_id = $2 AND ($3::bigint IS NULL OR version = $3)',
  // One statement, so the device check and the list read one snapshot: a device without modules gives one row whose
  // module columns are null, a missing device none.
  listModules: `
    SELECT d.device_id AS owner, m.*
    FROM devices d LEFT JOIN modules m ON m.device_id = d.device_id
    WHERE d.device_id = $1
    ORDER BY m.module_id`,
} as const;

/**
 * $1..$9 of insertDevice and updateDevice: the id, then the generation id (insert) or the expected version (update),
 * then the fields.
 */
export function deviceParams(device: DeviceRecord, second: string | number | null): unknown[] {
  return [
    device.deviceId,
    second,
    device.status,
    device.statusReason,
    device.statusUpdatedTime,
    JSON.stringify(device.authentication),
    JSON.stringify(device.capabilities),
    device.deviceScope,
    JSON.stringify(device.parentScopes),
  ];
}

/** $1..$5 of insertModule and updateModule: ids, the generation id (insert) or the expected version (update), fields. */
export function moduleParams(module: ModuleRecord, third: string | number | null): unknown[] {
  return [module.deviceId, module.moduleId, third, module.managedBy, JSON.stringify(module.authentication)];
}

export function toDevice(row: DeviceRow): DeviceRecord {
  return deviceOfRow(row, parsed);
}

export function toModule(row: ModuleRow): ModuleRecord {
  return moduleOfRow(row, parsed);
}
