import { HubError } from '../../domain/errors.js';
import type { TwinRecord, TwinTarget } from '../../domain/twin.js';
import { ABSENT, type TwinStore } from '../../ports/twin-store.js';
import type { SqliteDatabase } from './database.js';
import { TransactionGroupCommit } from './transaction-group-commit.js';
import { checkedVersion, prepareTwinStatements, toTwin, twinKey, twinParams, type TwinStatements } from './twin-statements.js';

/**
 * Writes per transaction at most. A twin write is one statement binding a few KB of JSON, roughly 10-30 µs, so a
 * full batch keeps the event loop from its sockets for 5-15 ms.
 */
const MAX_BATCH = 512;

/**
 * TwinStore on the twins table (migration 5) of a database opened by openSqliteDatabase. Every write goes through a
 * group commit: the writes of one event-loop turn share one transaction and one fsync, and each promise resolves
 * once that transaction committed. Reads run directly. The database belongs to whoever opened it: close() commits
 * what is queued and leaves it open.
 */
export class SqliteTwinStore implements TwinStore {
  readonly #sql: TwinStatements;
  readonly #writes: TransactionGroupCommit;

  constructor(db: SqliteDatabase) {
    this.#sql = prepareTwinStatements(db);
    this.#writes = new TransactionGroupCommit(db, MAX_BATCH);
  }

  async get(target: TwinTarget): Promise<TwinRecord | undefined> {
    const { deviceId, moduleId } = twinKey(target);
    const row = this.#sql.get.get(deviceId, moduleId);
    return row === undefined ? undefined : toTwin(row);
  }

  async put(record: TwinRecord, expectedVersion: number | typeof ABSENT): Promise<void> {
    const params = twinParams(record);
    const expected = expectedVersion === ABSENT ? ABSENT : checkedVersion('expectedVersion', expectedVersion);
    // A failed condition is reported by the write's result, not thrown inside it: a throw would roll the whole batch
    // back and run it again with a savepoint per write, and racing writers make failed conditions common.
    const stored = await this.#writes.run(() =>
      expected === ABSENT
        ? this.#sql.insert.run(params).changes === 1
        : this.#sql.replace.run({ ...params, expectedVersion: expected }).changes === 1,
    );
    if (!stored) {
      const twin = describeTwin(record);
      throw new HubError(
        'PreconditionFailed',
        expected === ABSENT ? `${twin} already exists` : `${twin} is missing or not at version ${expected}`,
      );
    }
  }

  async list(options: { modules: boolean; limit: number; after?: TwinTarget }): Promise<TwinRecord[]> {
    const { modules, limit, after } = options;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new TypeError(`list twins: limit must be an integer >= 0, got ${limit}`);
    }
    let rows;
    if (after === undefined) {
      rows = (modules ? this.#sql.listModules : this.#sql.listDevices).all({ limit });
    } else {
      rows = (modules ? this.#sql.listModulesAfter : this.#sql.listDevicesAfter).all({ ...twinKey(after), limit });
    }
    return rows.map(toTwin);
  }

  async deleteDevice(deviceId: string): Promise<void> {
    await this.#writes.run(() => this.#sql.deleteDevice.run(deviceId));
  }

  async deleteModule(deviceId: string, moduleId: string): Promise<void> {
    const key = twinKey({ deviceId, moduleId });
    await this.#writes.run(() => this.#sql.deleteModule.run(key.deviceId, key.moduleId));
  }

  async close(): Promise<void> {
    await this.#writes.close();
  }
}

function describeTwin(target: TwinTarget): string {
  return target.moduleId === undefined
    ? `twin of device '${target.deviceId}'`
    : `twin of module '${target.moduleId}' on device '${target.deviceId}'`;
}
