import type { Statement } from 'better-sqlite3';
import { HubError, isHubError } from '../../domain/errors.js';
import type { DeviceRecord, ModuleRecord } from '../../domain/identity.js';
import type { DeviceWrite, RegistryStore } from '../../ports/registry-store.js';
import { deviceOfRow, moduleOfRow, type DeviceColumns, type ModuleColumns } from '../registry-rows.js';
import type { SqliteDatabase } from './database.js';

type DeviceRow = DeviceColumns<string>;
type ModuleRow = ModuleColumns<string>;

/** Thrown inside applyDeviceWrites' transaction to roll it back after every write has been attempted. */
class RollBack extends Error {}

/**
 * RegistryStore on a better-sqlite3 database opened by openSqliteDatabase (schema migrated, foreign keys on).
 * better-sqlite3 is synchronous, so each method runs to completion before another starts in this process; write
 * transactions are IMMEDIATE so that other processes on the same file wait for the lock instead of failing.
 */
export class SqliteRegistryStore implements RegistryStore {
  readonly #db: SqliteDatabase;
  readonly #sql: ReturnType<typeof prepareStatements>;

  constructor(db: SqliteDatabase) {
    if (db.pragma('foreign_keys', { simple: true }) !== 1) {
      throw new TypeError('SqliteRegistryStore needs foreign_keys enabled; open the database with openSqliteDatabase');
    }
    this.#db = db;
    this.#sql = prepareStatements(db);
  }

  async createDevice(device: DeviceRecord): Promise<DeviceRecord> {
    return this.#createDevice(device);
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const row = this.#sql.getDevice.get(deviceId);
    return row === undefined ? undefined : toDevice(row);
  }

  async updateDevice(device: DeviceRecord, expectedVersion?: number): Promise<DeviceRecord> {
    return this.#write(() => this.#updateDevice(device, expectedVersion));
  }

  async deleteDevice(deviceId: string, expectedVersion?: number): Promise<void> {
    this.#write(() => this.#deleteDevice(deviceId, expectedVersion));
  }

  async listDevices(options: { limit: number; after?: string }): Promise<DeviceRecord[]> {
    const { limit, after } = options;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new TypeError(`listDevices: limit must be an integer >= 0, got ${limit}`);
    }
    const rows = after === undefined ? this.#sql.listDevices.all(limit) : this.#sql.listDevicesAfter.all(after, limit);
    return rows.map(toDevice);
  }

  async countDevices(): Promise<{ total: number; enabled: number; disabled: number }> {
    const counts = this.#sql.countDevices.get();
    return counts ?? { total: 0, enabled: 0, disabled: 0 };
  }

  async applyDeviceWrites(writes: DeviceWrite[]): Promise<Array<HubError | undefined>> {
    const results: Array<HubError | undefined> = writes.map(() => undefined);
    const applyAll = this.#db.transaction(() => {
      writes.forEach((write, i) => {
        try {
          if (write.op === 'create') this.#createDevice(write.device);
          else if (write.op === 'update') this.#updateDevice(write.device, write.expectedVersion);
          else this.#deleteDevice(write.deviceId, write.expectedVersion);
        } catch (err) {
          if (!isHubError(err)) throw err;
          results[i] = err;
        }
      });
      if (results.some((r) => r !== undefined)) throw new RollBack();
    });
    try {
      applyAll.immediate();
    } catch (err) {
      if (!(err instanceof RollBack)) throw err;
    }
    return results;
  }

  async createModule(module: ModuleRecord): Promise<ModuleRecord> {
    return this.#write(() => {
      this.#requireDevice(module.deviceId);
      const row = this.#sql.insertModule.get(moduleParams(module));
      if (row === undefined) {
        throw new HubError(
          'ModuleAlreadyExistsOnDevice',
          `module '${module.moduleId}' already exists on device '${module.deviceId}'`,
        );
      }
      return toModule(row);
    });
  }

  async getModule(deviceId: string, moduleId: string): Promise<ModuleRecord | undefined> {
    const row = this.#sql.getModule.get(deviceId, moduleId);
    return row === undefined ? undefined : toModule(row);
  }

  async updateModule(module: ModuleRecord, expectedVersion?: number): Promise<ModuleRecord> {
    return this.#write(() => {
      const row = this.#sql.updateModule.get({ ...moduleParams(module), expectedVersion: expectedVersion ?? null });
      if (row !== undefined) return toModule(row);
      throw this.#moduleMiss(module.deviceId, module.moduleId, expectedVersion);
    });
  }

  async deleteModule(deviceId: string, moduleId: string, expectedVersion?: number): Promise<void> {
    this.#write(() => {
      const { changes } = this.#sql.deleteModule.run({ deviceId, moduleId, expectedVersion: expectedVersion ?? null });
      if (changes === 0) throw this.#moduleMiss(deviceId, moduleId, expectedVersion);
    });
  }

  async listModules(deviceId: string): Promise<ModuleRecord[]> {
    // One read transaction, so the device check and the list see the same snapshot.
    return this.#db.transaction(() => {
      this.#requireDevice(deviceId);
      return this.#sql.listModules.all(deviceId).map(toModule);
    })();
  }

  async close(): Promise<void> {
    this.#db.close();
  }

  #write<T>(body: () => T): T {
    return this.#db.transaction(body).immediate();
  }

  #createDevice(device: DeviceRecord): DeviceRecord {
    const row = this.#sql.insertDevice.get(deviceParams(device));
    if (row === undefined) throw new HubError('DeviceAlreadyExists', `device '${device.deviceId}' already exists`);
    return toDevice(row);
  }

  // Called inside a transaction, so the miss check reads the same state the guarded UPDATE saw.
  #updateDevice(device: DeviceRecord, expectedVersion: number | undefined): DeviceRecord {
    const row = this.#sql.updateDevice.get({ ...deviceParams(device), expectedVersion: expectedVersion ?? null });
    if (row !== undefined) return toDevice(row);
    throw this.#deviceMiss(device.deviceId, expectedVersion);
  }

  #deleteDevice(deviceId: string, expectedVersion: number | undefined): void {
    const { changes } = this.#sql.deleteDevice.run({ deviceId, expectedVersion: expectedVersion ?? null });
    if (changes === 0) throw this.#deviceMiss(deviceId, expectedVersion);
  }

  #requireDevice(deviceId: string): void {
    if (this.#sql.deviceVersion.get(deviceId) === undefined) {
      throw new HubError('DeviceNotFound', `device '${deviceId}' does not exist`);
    }
  }

  /** Why a guarded device write matched no row: the device is missing, or its version is not the expected one. */
  #deviceMiss(deviceId: string, expectedVersion: number | undefined): HubError {
    const current = this.#sql.deviceVersion.get(deviceId);
    if (current === undefined) return new HubError('DeviceNotFound', `device '${deviceId}' does not exist`);
    return new HubError(
      'PreconditionFailed',
      `device '${deviceId}' is at version ${current}, expected version ${expectedVersion}`,
    );
  }

  #moduleMiss(deviceId: string, moduleId: string, expectedVersion: number | undefined): HubError {
    const current = this.#sql.moduleVersion.get(deviceId, moduleId);
    if (current === undefined) {
      return new HubError('ModuleNotFound', `module '${moduleId}' does not exist on device '${deviceId}'`);
    }
    return new HubError(
      'PreconditionFailed',
      `module '${moduleId}' on device '${deviceId}' is at version ${current}, expected version ${expectedVersion}`,
    );
  }
}

// The guard `@expectedVersion IS NULL OR version = @expectedVersion` lets a NULL expected version match any version.
function prepareStatements(db: SqliteDatabase) {
  const device = (sql: string) => db.prepare(sql) as Statement<unknown[], DeviceRow>;
  const module = (sql: string) => db.prepare(sql) as Statement<unknown[], ModuleRow>;
  return {
    insertDevice: device(`
      INSERT INTO devices (device_id, generation_id, version, status, status_reason, status_updated_time,
                           authentication, capabilities, device_scope, parent_scopes)
      VALUES (@deviceId, @generationId, 1, @status, @statusReason, @statusUpdatedTime,
              @authentication, @capabilities, @deviceScope, @parentScopes)
      ON CONFLICT (device_id) DO NOTHING
      RETURNING *`),
    getDevice: device('SELECT * FROM devices WHERE device_id = ?'),
    deviceVersion: db.prepare('SELECT version FROM devices WHERE device_id = ?').pluck() as Statement<unknown[], number>,
    updateDevice: device(`
      UPDATE devices
      SET status = @status, status_reason = @statusReason, status_updated_time = @statusUpdatedTime,
          authentication = @authentication, capabilities = @capabilities, device_scope = @deviceScope,
          parent_scopes = @parentScopes, version = version + 1
      WHERE device_id = @deviceId AND (@expectedVersion IS NULL OR version = @expectedVersion)
      RETURNING *`),
    deleteDevice: db.prepare(`
      DELETE FROM devices
      WHERE device_id = @deviceId AND (@expectedVersion IS NULL OR version = @expectedVersion)`),
    listDevices: device('SELECT * FROM devices ORDER BY device_id LIMIT ?'),
    listDevicesAfter: device('SELECT * FROM devices WHERE device_id > ? ORDER BY device_id LIMIT ?'),
    countDevices: db.prepare(`
      SELECT count(*) AS total,
             coalesce(sum(status = 'enabled'), 0) AS enabled,
             coalesce(sum(status = 'disabled'), 0) AS disabled
      FROM devices`) as Statement<[], { total: number; enabled: number; disabled: number }>,

    insertModule: module(`
      INSERT INTO modules (device_id, module_id, generation_id, version, managed_by, authentication)
      VALUES (@deviceId, @moduleId, @generationId, 1, @managedBy, @authentication)
      ON CONFLICT (device_id, module_id) DO NOTHING
      RETURNING *`),
    getModule: module('SELECT * FROM modules WHERE device_id = ? AND module_id = ?'),
    moduleVersion: db
      .prepare('SELECT version FROM modules WHERE device_id = ? AND module_id = ?')
      .pluck() as Statement<unknown[], number>,
    updateModule: module(`
      UPDATE modules SET managed_by = @managedBy, authentication = @authentication, version = version + 1
      WHERE device_id = @deviceId AND module_id = @moduleId
        AND (@expectedVersion IS NULL OR version = @expectedVersion)
      RETURNING *`),
    deleteModule: db.prepare(`
      DELETE FROM modules
      WHERE device_id = @deviceId AND module_id = @moduleId
        AND (@expectedVersion IS NULL OR version = @expectedVersion)`),
    listModules: module('SELECT * FROM modules WHERE device_id = ? ORDER BY module_id'),
  };
}

/** Named parameters for the device statements; better-sqlite3 ignores the ones a statement does not use. */
function deviceParams(device: DeviceRecord) {
  return {
    deviceId: device.deviceId,
    generationId: device.generationId,
    status: device.status,
    statusReason: device.statusReason,
    statusUpdatedTime: device.statusUpdatedTime,
    authentication: JSON.stringify(device.authentication),
    capabilities: JSON.stringify(device.capabilities),
    deviceScope: device.deviceScope,
    parentScopes: JSON.stringify(device.parentScopes),
  };
}

function moduleParams(module: ModuleRecord) {
  return {
    deviceId: module.deviceId,
    moduleId: module.moduleId,
    generationId: module.generationId,
    managedBy: module.managedBy,
    authentication: JSON.stringify(module.authentication),
  };
}

function toDevice(row: DeviceRow): DeviceRecord {
  return deviceOfRow(row, JSON.parse);
}

function toModule(row: ModuleRow): ModuleRecord {
  return moduleOfRow(row, JSON.parse);
}
