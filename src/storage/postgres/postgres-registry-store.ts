import { HubError } from '../../domain/errors.js';
import type { DeviceRecord, ModuleRecord } from '../../domain/identity.js';
import type { DeviceWrite, RegistryStore } from '../../ports/registry-store.js';
import { sqlState, type PostgresDatabase, type Sql } from './database.js';
import { deviceParams, moduleParams, REGISTRY_SQL as SQL, toDevice, toModule, type DeviceRow, type ModuleRow } from './registry-statements.js';

const FOREIGN_KEY_VIOLATION = '23503';

/**
 * RegistryStore on the devices and modules tables (migration 1) of a PostgresDatabase. Every write is one
 * conditional statement: a guarded UPDATE re-checks `version` against the latest committed row after waiting for a
 * concurrent writer (READ COMMITTED), so of two writers that expect the same version exactly one matches. The pool
 * belongs to whoever opened it; close() leaves it open.
 */
export class PostgresRegistryStore implements RegistryStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async createDevice(device: DeviceRecord): Promise<DeviceRecord> {
    return createDevice(this.#db, device);
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const { rows } = await this.#db.query<DeviceRow>(SQL.getDevice, [deviceId]);
    return rows[0] === undefined ? undefined : toDevice(rows[0]);
  }

  async updateDevice(device: DeviceRecord, expectedVersion?: number): Promise<DeviceRecord> {
    return updateDevice(this.#db, device, expectedVersion);
  }

  async deleteDevice(deviceId: string, expectedVersion?: number): Promise<void> {
    await deleteDevice(this.#db, deviceId, expectedVersion);
  }

  async listDevices(options: { limit: number; after?: string }): Promise<DeviceRecord[]> {
    const { limit, after } = options;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new TypeError(`listDevices: limit must be an integer >= 0, got ${limit}`);
    }
    const { rows } =
      after === undefined
        ? await this.#db.query<DeviceRow>(SQL.listDevices, [limit])
        : await this.#db.query<DeviceRow>(SQL.listDevicesAfter, [limit, after]);
    return rows.map(toDevice);
  }

  async countDevices(): Promise<{ total: number; enabled: number; disabled: number }> {
    const { rows } = await this.#db.query<{ total: number; enabled: number; disabled: number }>(SQL.countDevices);
    return rows[0]!;
  }

  async applyDeviceWrites(writes: DeviceWrite[]): Promise<Array<HubError | undefined>> {
    if (writes.length === 0) return [];
    return this.#db.transaction(async (tx) => {
      const results: Array<HubError | undefined> = [];
      // In order and one at a time: later writes see what earlier ones did (a create, then an update of it).
      for (const write of writes) {
        try {
          if (write.op === 'create') await createDevice(tx, write.device);
          else if (write.op === 'update') await updateDevice(tx, write.device, write.expectedVersion);
          else await deleteDevice(tx, write.deviceId, write.expectedVersion);
          results.push(undefined);
        } catch (err) {
          if (!(err instanceof HubError)) throw err;
          results.push(err);
        }
      }
      if (results.some((r) => r !== undefined)) tx.rollback();
      return results;
    });
  }

  async createModule(module: ModuleRecord): Promise<ModuleRecord> {
    let rows: ModuleRow[];
    try {
      ({ rows } = await this.#db.query<ModuleRow>(SQL.insertModule, moduleParams(module, module.generationId)));
    } catch (err) {
      if (sqlState(err) === FOREIGN_KEY_VIOLATION) throw deviceNotFound(module.deviceId);
      throw err;
    }
    if (rows[0] === undefined) {
      throw new HubError('ModuleAlreadyExistsOnDevice', `module '${module.moduleId}' already exists on device '${module.deviceId}'`);
    }
    return toModule(rows[0]);
  }

  async getModule(deviceId: string, moduleId: string): Promise<ModuleRecord | undefined> {
    const { rows } = await this.#db.query<ModuleRow>(SQL.getModule, [deviceId, moduleId]);
    return rows[0] === undefined ? undefined : toModule(rows[0]);
  }

  async updateModule(module: ModuleRecord, expectedVersion?: number): Promise<ModuleRecord> {
    const { rows } = await this.#db.query<ModuleRow>(SQL.updateModule, moduleParams(module, expectedVersion ?? null));
    if (rows[0] !== undefined) return toModule(rows[0]);
    throw await moduleMiss(this.#db, module.deviceId, module.moduleId, expectedVersion);
  }

  async deleteModule(deviceId: string, moduleId: string, expectedVersion?: number): Promise<void> {
    const { rowCount } = await this.#db.query(SQL.deleteModule, [deviceId, moduleId, expectedVersion ?? null]);
    if (rowCount === 0) throw await moduleMiss(this.#db, deviceId, moduleId, expectedVersion);
  }

  async listModules(deviceId: string): Promise<ModuleRecord[]> {
    // module_id is null on the one row of a device without modules.
    const { rows } = await this.#db.query<ModuleRow & { owner: string }>(SQL.listModules, [deviceId]);
    if (rows.length === 0) throw deviceNotFound(deviceId);
    return rows.filter((row) => row.module_id !== null).map(toModule);
  }

  async close(): Promise<void> {}
}

// The write steps take the Sql to run on, so applyDeviceWrites runs the same steps inside its transaction.

async function createDevice(sql: Sql, device: DeviceRecord): Promise<DeviceRecord> {
  const { rows } = await sql.query<DeviceRow>(SQL.insertDevice, deviceParams(device, device.generationId));
  if (rows[0] === undefined) throw new HubError('DeviceAlreadyExists', `device '${device.deviceId}' already exists`);
  return toDevice(rows[0]);
}

async function updateDevice(sql: Sql, device: DeviceRecord, expectedVersion: number | undefined): Promise<DeviceRecord> {
  const { rows } = await sql.query<DeviceRow>(SQL.updateDevice, deviceParams(device, expectedVersion ?? null));
  if (rows[0] !== undefined) return toDevice(rows[0]);
  throw await deviceMiss(sql, device.deviceId, expectedVersion);
}

async function deleteDevice(sql: Sql, deviceId: string, expectedVersion: number | undefined): Promise<void> {
  const { rowCount } = await sql.query(SQL.deleteDevice, [deviceId, expectedVersion ?? null]);
  if (rowCount === 0) throw await deviceMiss(sql, deviceId, expectedVersion);
}

/**
 * Why a guarded device write matched no row: the device is missing, or its version is not the expected one. Read
 * after the write, so it describes the state a moment later; the guard itself was atomic.
 */
async function deviceMiss(sql: Sql, deviceId: string, expectedVersion: number | undefined): Promise<HubError> {
  if (expectedVersion === undefined) return deviceNotFound(deviceId);
  const { rows } = await sql.query<{ version: number }>(SQL.deviceVersion, [deviceId]);
  if (rows[0] === undefined) return deviceNotFound(deviceId);
  return new HubError('PreconditionFailed', `device '${deviceId}' is at version ${rows[0].version}, expected version ${expectedVersion}`);
}

async function moduleMiss(sql: Sql, deviceId: string, moduleId: string, expectedVersion: number | undefined): Promise<HubError> {
  const notFound = new HubError('ModuleNotFound', `module '${moduleId}' does not exist on device '${deviceId}'`);
  if (expectedVersion === undefined) return notFound;
  const { rows } = await sql.query<{ version: number }>(SQL.moduleVersion, [deviceId, moduleId]);
  if (rows[0] === undefined) return notFound;
  return new HubError(
    'PreconditionFailed',
    `module '${moduleId}' on device '${deviceId}' is at version ${rows[0].version}, expected version ${expectedVersion}`,
  );
}

function deviceNotFound(deviceId: string): HubError {
  return new HubError('DeviceNotFound', `device '${deviceId}' does not exist`);
}
