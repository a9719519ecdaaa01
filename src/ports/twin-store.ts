import type { TwinRecord, TwinTarget } from '../domain/twin.js';

/** `put`'s condition for a twin that must not exist yet. */
export const ABSENT = 'absent' as const;

/**
 * Where twins live, one document per device and per module. Every adapter passes
 * test/contract/twin-store.contract.ts.
 *
 * - `put` is a compare-and-swap on the twin's `version`: with `expectedVersion` a number, the stored twin must have
 *   exactly that version; with ABSENT, no twin may be stored for the target. Otherwise it fails with HubError
 *   PreconditionFailed and changes nothing. It stores the record exactly as given (the caller computes versions), so
 *   of two racing writers that read the same version exactly one wins.
 * - Records come back as stored, as copies (JSON values round-trip exactly: key order, nesting, numbers).
 * - `list` pages through device twins (`modules: false`) or module twins (`modules: true`) in ascending
 *   (deviceId, moduleId) order, binary collation, strictly after `after` when given.
 * - `deleteDevice` removes the device's twin and its modules' twins; `deleteModule` one module twin. Neither fails
 *   when there is nothing to delete.
 */
export interface TwinStore {
  get(target: TwinTarget): Promise<TwinRecord | undefined>;
  put(record: TwinRecord, expectedVersion: number | typeof ABSENT): Promise<void>;
  list(options: { modules: boolean; limit: number; after?: TwinTarget }): Promise<TwinRecord[]>;
  deleteDevice(deviceId: string): Promise<void>;
  deleteModule(deviceId: string, moduleId: string): Promise<void>;
  close(): Promise<void>;
}
