import type { DeviceRecord, DeviceStatus, ModuleRecord } from '../domain/identity.js';

/**
 * What the SQLite and PostgreSQL registry schemas share: the columns of a devices and a modules row, the JSON ones
 * (`J`) as the driver returns them (text from SQLite, already parsed from pg), and how a row becomes a record.
 */
export interface DeviceColumns<J> {
  device_id: string;
  generation_id: string;
  version: number;
  status: string;
  status_reason: string | null;
  status_updated_time: string;
  authentication: J;
  capabilities: J;
  device_scope: string | null;
  parent_scopes: J;
}

export interface ModuleColumns<J> {
  device_id: string;
  module_id: string;
  generation_id: string;
  version: number;
  managed_by: string | null;
  authentication: J;
}

/** `json` turns a JSON column's value into the value it holds (JSON.parse for text, identity for parsed). */
export function deviceOfRow<J>(row: DeviceColumns<J>, json: (value: J) => unknown): DeviceRecord {
  return {
    deviceId: row.device_id,
    generationId: row.generation_id,
    version: row.version,
    status: row.status as DeviceStatus,
    statusReason: row.status_reason,
    statusUpdatedTime: row.status_updated_time,
    authentication: json(row.authentication) as DeviceRecord['authentication'],
    capabilities: json(row.capabilities) as DeviceRecord['capabilities'],
    deviceScope: row.device_scope,
    parentScopes: json(row.parent_scopes) as DeviceRecord['parentScopes'],
  };
}

export function moduleOfRow<J>(row: ModuleColumns<J>, json: (value: J) => unknown): ModuleRecord {
  return {
    deviceId: row.device_id,
    moduleId: row.module_id,
    generationId: row.generation_id,
    version: row.version,
    managedBy: row.managed_by,
    authentication: json(row.authentication) as ModuleRecord['authentication'],
  };
}
