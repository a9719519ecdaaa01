import { HubError, isHubError } from '../../domain/errors.js';
import type { DeviceWrite, RegistryStore } from '../../ports/registry-store.js';
import { invalid, isObject } from './authentication-input.js';
import { expectedVersionOf } from './etags.js';
import { parseDeviceInput } from './identity-input.js';
import type { RegistryService } from './registry-service.js';

export const MAX_BULK_DEVICES = 100;
const MODES = ['create', 'update', 'updateifmatchetag', 'delete', 'deleteifmatchetag'] as const;
type Mode = (typeof MODES)[number];

export interface BulkRegistryResult {
  isSuccessful: boolean;
  errors: Array<{ deviceId: string; errorCode: string; errorStatus: string; moduleId: null; operation: string }>;
  warnings: never[];
}

/**
 * `POST /devices`: create, update and delete up to 100 devices in one call. Lazuli applies the whole list
 * atomically: if any entry fails, none is applied and every failure is reported. `applied` lists the writes made
 * (none when the request failed).
 */
export async function applyBulkRegistry(
  body: unknown,
  registry: RegistryService,
  store: RegistryStore,
): Promise<{ result: BulkRegistryResult; applied: DeviceWrite[] }> {
  if (!Array.isArray(body) || body.length === 0 || body.length > MAX_BULK_DEVICES) {
    invalid(`the body must be an array of 1 to ${MAX_BULK_DEVICES} ExportImportDevice objects`);
  }
  const seen = new Set<string>();
  for (const entry of body) {
    const id = isObject(entry) ? entry.id : undefined;
    if (typeof id !== 'string') invalid('every entry needs a string "id"');
    if (isObject(entry) && entry.moduleId !== undefined && entry.moduleId !== null) {
      invalid('bulk operations on modules are not supported; use PUT /devices/{id}/modules/{moduleId}');
    }
    if (seen.has(id)) throw new HubError('DeviceDefinedMultipleTimes', `Device ${id} appears more than once`);
    seen.add(id);
  }

  const entries = body as Array<Record<string, unknown> & { id: string }>;
  const writes: Array<DeviceWrite | HubError> = await Promise.all(entries.map((e) => toWrite(e, registry)));
  const invalidEntries = writes.map((w) => (w instanceof HubError ? w : undefined));
  const failures = invalidEntries.some(Boolean)
    ? invalidEntries
    : await store.applyDeviceWrites(writes as DeviceWrite[]);

  const errors = failures.flatMap((err, i) => {
    if (!err) return [];
    const entry = entries[i]!;
    return [{ deviceId: entry.id, errorCode: err.errorCode, errorStatus: err.message, moduleId: null, operation: String(entry.importMode) }];
  });
  const result = { isSuccessful: errors.length === 0, errors, warnings: [] as never[] };
  return { result, applied: result.isSuccessful ? (writes as DeviceWrite[]) : [] };
}

async function toWrite(entry: Record<string, unknown> & { id: string }, registry: RegistryService): Promise<DeviceWrite | HubError> {
  try {
    const mode = String(entry.importMode ?? '').toLowerCase() as Mode;
    if (!MODES.includes(mode)) invalid(`importMode "${String(entry.importMode)}" is not one of create, update, updateIfMatchETag, delete, deleteIfMatchETag`);
    const guarded = mode.endsWith('ifmatchetag');
    const expectedVersion = guarded ? expectedVersionOf(requireEtag(entry)) : undefined;
    const withVersion = expectedVersion === undefined ? {} : { expectedVersion };
    if (mode.startsWith('delete')) return { op: 'delete', deviceId: entry.id, ...withVersion };
    const input = parseDeviceInput({ ...entry, deviceId: entry.id });
    if (mode === 'create') return { op: 'create', device: registry.newDevice(input) };
    const current = await registry.requireDevice(entry.id);
    return { op: 'update', device: registry.updatedDevice(current, input, entry), ...withVersion };
  } catch (err) {
    if (isHubError(err)) return err;
    throw err;
  }
}

function requireEtag(entry: Record<string, unknown>): string {
  const etag = entry.eTag ?? entry.etag;
  if (typeof etag !== 'string' || etag === '') invalid(`importMode ${String(entry.importMode)} needs an eTag`);
  return etag;
}
