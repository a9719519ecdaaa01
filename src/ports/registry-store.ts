import type { HubError } from '../domain/errors.js';
import type { DeviceRecord, ModuleRecord } from '../domain/identity.js';

/**
 * Where device and module identities live. Every adapter passes test/contract/registry-store.contract.ts.
 *
 * Conditional writes are atomic in the store: `expectedVersion` (when given) must equal the stored version or the
 * call fails with HubError PreconditionFailed and changes nothing. Creates store version 1 and every update sets the
 * stored version + 1 (whatever `version` the given record carries), so two racing guarded writes cannot both win.
 *
 * Errors are HubErrors: DeviceNotFound, DeviceAlreadyExists, ModuleNotFound, ModuleAlreadyExistsOnDevice,
 * PreconditionFailed.
 */
export interface RegistryStore {
  /** Stores a new device with the record's fields and version 1; returns the stored record. */
  createDevice(device: DeviceRecord): Promise<DeviceRecord>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  /** Replaces every field but deviceId and generationId; returns the stored record with its new version. */
  updateDevice(device: DeviceRecord, expectedVersion?: number): Promise<DeviceRecord>;
  /** Deletes the device and all its modules. */
  deleteDevice(deviceId: string, expectedVersion?: number): Promise<void>;
  /** Devices in ascending deviceId order (binary collation), at most `limit`, strictly after `after` when given. */
  listDevices(options: { limit: number; after?: string }): Promise<DeviceRecord[]>;
  countDevices(): Promise<{ total: number; enabled: number; disabled: number }>;

  /**
   * Applies the writes in order in one transaction. When every write succeeds they are committed and the result
   * is all `undefined`; when any fails nothing is committed and the result holds each failing write's HubError at
   * its index (every write is attempted, so the caller can report all failures at once).
   */
  applyDeviceWrites(writes: DeviceWrite[]): Promise<Array<HubError | undefined>>;

  createModule(module: ModuleRecord): Promise<ModuleRecord>;
  getModule(deviceId: string, moduleId: string): Promise<ModuleRecord | undefined>;
  updateModule(module: ModuleRecord, expectedVersion?: number): Promise<ModuleRecord>;
  deleteModule(deviceId: string, moduleId: string, expectedVersion?: number): Promise<void>;
  /** Modules of one device in ascending moduleId order; DeviceNotFound when the device does not exist. */
  listModules(deviceId: string): Promise<ModuleRecord[]>;

  close(): Promise<void>;
}

export type DeviceWrite =
  | { op: 'create'; device: DeviceRecord }
  | { op: 'update'; device: DeviceRecord; expectedVersion?: number }
  | { op: 'delete'; deviceId: string; expectedVersion?: number };
