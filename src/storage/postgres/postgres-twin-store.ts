import { HubError } from '../../domain/errors.js';
import type { TwinRecord, TwinTarget } from '../../domain/twin.js';
import { ABSENT, type TwinStore } from '../../ports/twin-store.js';
import type { PostgresDatabase } from './database.js';
import { KeyedSerializer } from './keyed-serializer.js';
import { checkedVersion, toTwin, TWIN_SQL as SQL, twinKey, twinParams, type TwinRow } from './twin-statements.js';

/**
 * TwinStore on the twins table (migration 3) of a PostgresDatabase. put is one statement: INSERT ... ON CONFLICT DO
 * NOTHING for ABSENT, UPDATE ... WHERE version = expected otherwise; either re-checks its condition against the
 * latest committed row after waiting for a concurrent writer, so of two racing writers exactly one stores. Within
 * this process the writes to one device's twins (its own and its modules') run one at a time in call order, so a
 * chain of puts issued at once applies in that order. The pool belongs to whoever opened it; close() waits for the
 * writes already issued and leaves it open.
 */
export class PostgresTwinStore implements TwinStore {
  readonly #db: PostgresDatabase;
  readonly #devices = new KeyedSerializer();

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async get(target: TwinTarget): Promise<TwinRecord | undefined> {
    const { deviceId, moduleId } = twinKey(target);
    const { rows } = await this.#db.query<TwinRow>(SQL.get, [deviceId, moduleId]);
    return rows[0] === undefined ? undefined : toTwin(rows[0]);
  }

  async put(record: TwinRecord, expectedVersion: number | typeof ABSENT): Promise<void> {
    const params = twinParams(record);
    const [sql, values] =
      expectedVersion === ABSENT ? [SQL.insert, params] : [SQL.replace, [...params, checkedVersion('expectedVersion', expectedVersion)]];
    const { rowCount } = await this.#devices.run(record.deviceId, () => this.#db.query(sql, values));
    if (rowCount === 0) {
      const twin = describeTwin(record);
      throw new HubError(
        'PreconditionFailed',
        expectedVersion === ABSENT ? `${twin} already exists` : `${twin} is missing or not at version ${expectedVersion}`,
      );
    }
  }

  async list(options: { modules: boolean; limit: number; after?: TwinTarget }): Promise<TwinRecord[]> {
    const { modules, limit, after } = options;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new TypeError(`list twins: limit must be an integer >= 0, got ${limit}`);
    }
    let result;
    if (after === undefined) {
      result = await this.#db.query<TwinRow>(modules ? SQL.listModules : SQL.listDevices, [limit]);
    } else {
      const { deviceId, moduleId } = twinKey(after);
      result = await this.#db.query<TwinRow>(modules ? SQL.listModulesAfter : SQL.listDevicesAfter, [limit, deviceId, moduleId]);
    }
    return result.rows.map(toTwin);
  }

  async deleteDevice(deviceId: string): Promise<void> {
    await this.#devices.run(deviceId, () => this.#db.query(SQL.deleteDevice, [deviceId]));
  }

  async deleteModule(deviceId: string, moduleId: string): Promise<void> {
    const key = twinKey({ deviceId, moduleId });
    await this.#devices.run(deviceId, () => this.#db.query(SQL.deleteModule, [key.deviceId, key.moduleId]));
  }

  async close(): Promise<void> {
    await this.#devices.drain();
  }
}

function describeTwin(target: TwinTarget): string {
  return target.moduleId === undefined
    ? `twin of device '${target.deviceId}'`
    : `twin of module '${target.moduleId}' on device '${target.deviceId}'`;
}
