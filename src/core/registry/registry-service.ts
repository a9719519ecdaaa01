import { HubError } from '../../domain/errors.js';
import { newGenerationId, type DeviceRecord, type ModuleRecord } from '../../domain/identity.js';
import type { RegistryStore } from '../../ports/registry-store.js';
import { applyBulkRegistry, type BulkRegistryResult } from './bulk-registry.js';
import { expectedVersionOf } from './etags.js';
import { parseDeviceInput, parseModuleInput, requireValidId, type DeviceInput } from './identity-input.js';
import { deviceView, DISCONNECTED, moduleView, type ConnectionInfo, type DeviceView, type ModuleView } from './identity-view.js';

export const MAX_LIST_PAGE = 1000;

/** Told after a change that must end live connections (in a cluster, on every node). */
export interface IdentityChangeListener {
  deviceDisabledOrDeleted(deviceId: string, reason: string): void;
  moduleDeleted(deviceId: string, moduleId: string): void;
  /** After deviceDisabledOrDeleted, when the device is gone for good (its C2D queues go too). */
  deviceDeleted?(deviceId: string): void;
}

export interface RegistryServiceOptions {
  now?: () => number;
  /** Connection state for the device view; Disconnected when not given. */
  connectionInfo?: (deviceId: string, moduleId?: string) => Promise<ConnectionInfo>;
  /** `cloudToDeviceMessageCount` for the device view; 0 when not given. */
  queuedMessages?: (deviceId: string, moduleId?: string) => Promise<number>;
  listener?: IdentityChangeListener;
}

export interface DevicePage {
  devices: DeviceView[];
  /** Present when more devices follow; pass it back to get the next page. */
  continuation?: string;
}

/**
 * The identity registry: devices and modules, their keys and status. Protocol-free; the service REST adapter and
 * the CLI reach it through the hub facade. Authorisation is the caller's job (see AuthService.requirePermission).
 */
export class RegistryService {
  private readonly now: () => number;
  private readonly conn: (deviceId: string, moduleId?: string) => Promise<ConnectionInfo>;
  private readonly queued: (deviceId: string, moduleId?: string) => Promise<number>;
  private readonly listener: IdentityChangeListener | undefined;

  constructor(
    private readonly store: RegistryStore,
    options: RegistryServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.conn = options.connectionInfo ?? (async () => DISCONNECTED);
    this.queued = options.queuedMessages ?? (async () => 0);
    this.listener = options.listener;
  }

  /** PUT semantics: without If-Match create only; with it (`*` or an etag) update an existing device. */
  async putDevice(pathId: string, body: unknown, ifMatch?: string): Promise<DeviceView> {
    const input = parseDeviceInput(body, pathId);
    if (ifMatch === undefined) return this.viewOf(await this.store.createDevice(this.newDevice(input)));
    const expectedVersion = expectedVersionOf(ifMatch);
    const current = await this.requireDevice(pathId);
    const updated = await this.store.updateDevice(this.updatedDevice(current, input, body), expectedVersion);
    if (updated.status === 'disabled') this.listener?.deviceDisabledOrDeleted(pathId, `device ${pathId} was disabled`);
    return this.viewOf(updated);
  }

  async getDevice(deviceId: string): Promise<DeviceView> {
    return this.viewOf(await this.requireDevice(deviceId));
  }

  async deleteDevice(deviceId: string, ifMatch?: string): Promise<void> {
    await this.store.deleteDevice(deviceId, ifMatch === undefined ? undefined : expectedVersionOf(ifMatch));
    this.listener?.deviceDisabledOrDeleted(deviceId, `device ${deviceId} was deleted`);
    this.listener?.deviceDeleted?.(deviceId);
  }

  async listDevices(top = MAX_LIST_PAGE, continuation?: string): Promise<DevicePage> {
    if (!Number.isInteger(top) || top < 1 || top > MAX_LIST_PAGE) {
      throw new HubError('ArgumentInvalid', `top must be a whole number from 1 to ${MAX_LIST_PAGE}`);
    }
    const after = continuation === undefined ? undefined : decodeContinuation(continuation);
    const records = await this.store.listDevices({ limit: top + 1, ...(after === undefined ? {} : { after }) });
    const page = records.slice(0, top);
    const last = page[page.length - 1];
    const result: DevicePage = { devices: await Promise.all(page.map((d) => this.viewOf(d))) };
    if (records.length > top && last) result.continuation = Buffer.from(last.deviceId).toString('base64url');
    return result;
  }

  /** `POST /devices`: see applyBulkRegistry. */
  async bulk(body: unknown): Promise<BulkRegistryResult> {
    const { result, applied } = await applyBulkRegistry(body, this, this.store);
    for (const write of applied) {
      if (write.op === 'delete') {
        this.listener?.deviceDisabledOrDeleted(write.deviceId, `device ${write.deviceId} was deleted`);
        this.listener?.deviceDeleted?.(write.deviceId);
      }
      else if (write.device.status === 'disabled') this.listener?.deviceDisabledOrDeleted(write.device.deviceId, `device ${write.device.deviceId} was disabled`);
    }
    return result;
  }

  async statistics(): Promise<{ totalDeviceCount: number; enabledDeviceCount: number; disabledDeviceCount: number }> {
    const c = await this.store.countDevices();
    return { totalDeviceCount: c.total, enabledDeviceCount: c.enabled, disabledDeviceCount: c.disabled };
  }

  async putModule(deviceId: string, moduleId: string, body: unknown, ifMatch?: string): Promise<ModuleView> {
    const input = parseModuleInput(body, deviceId, moduleId);
    if (ifMatch === undefined) {
      const record: ModuleRecord = { ...input, generationId: newGenerationId(this.now()), version: 1 };
      return this.moduleViewOf(await this.store.createModule(record));
    }
    const expectedVersion = expectedVersionOf(ifMatch);
    const current = await this.requireModule(deviceId, moduleId);
    const authentication = keepKeysUnlessGiven(current.authentication, input.authentication, body);
    return this.moduleViewOf(await this.store.updateModule({ ...current, ...input, authentication }, expectedVersion));
  }

  async getModule(deviceId: string, moduleId: string): Promise<ModuleView> {
    return this.moduleViewOf(await this.requireModule(deviceId, moduleId));
  }

  async listModules(deviceId: string): Promise<ModuleView[]> {
    return Promise.all((await this.store.listModules(deviceId)).map((m) => this.moduleViewOf(m)));
  }

  async deleteModule(deviceId: string, moduleId: string, ifMatch?: string): Promise<void> {
    await this.store.deleteModule(deviceId, moduleId, ifMatch === undefined ? undefined : expectedVersionOf(ifMatch));
    this.listener?.moduleDeleted(deviceId, moduleId);
  }

  private async viewOf(d: DeviceRecord): Promise<DeviceView> {
    const [conn, queued] = await Promise.all([this.conn(d.deviceId), this.queued(d.deviceId)]);
    return deviceView(d, { ...conn, cloudToDeviceMessageCount: queued });
  }

  private async moduleViewOf(m: ModuleRecord): Promise<ModuleView> {
    const [conn, queued] = await Promise.all([this.conn(m.deviceId, m.moduleId), this.queued(m.deviceId, m.moduleId)]);
    return moduleView(m, { ...conn, cloudToDeviceMessageCount: queued });
  }

  /** The stored record, for other services (auth, telemetry) that need keys and status. */
  async requireDevice(deviceId: string): Promise<DeviceRecord> {
    const device = await this.store.getDevice(deviceId);
    if (!device) throw new HubError('DeviceNotFound', `Device ${deviceId} is not registered`);
    return device;
  }

  private async requireModule(deviceId: string, moduleId: string): Promise<ModuleRecord> {
    requireValidId(moduleId, 'moduleId');
    const mod = await this.store.getModule(deviceId, moduleId);
    if (!mod) throw new HubError('ModuleNotFound', `Module ${moduleId} is not registered on device ${deviceId}`);
    return mod;
  }

  newDevice(input: DeviceInput): DeviceRecord {
    const generationId = newGenerationId(this.now());
    const deviceScope = input.deviceScope ?? (input.capabilities.iotEdge ? `ms-azure-iot-edge://${input.deviceId}-${generationId}` : null);
    return { ...input, deviceScope, generationId, version: 1, statusUpdatedTime: new Date(this.now()).toISOString() };
  }

  updatedDevice(current: DeviceRecord, input: DeviceInput, body?: unknown): DeviceRecord {
    const statusChanged = current.status !== input.status;
    return {
      ...current,
      ...input,
      authentication: keepKeysUnlessGiven(current.authentication, input.authentication, body),
      deviceScope: input.deviceScope ?? current.deviceScope,
      statusUpdatedTime: statusChanged ? new Date(this.now()).toISOString() : current.statusUpdatedTime,
    };
  }
}

/**
 * Updates that leave a sas identity's keys empty keep the keys it has: the Node SDK sends empty keys on every
 * update that does not mention them, and regenerating would lock the device out.
 */
function keepKeysUnlessGiven(current: DeviceRecord['authentication'], next: DeviceRecord['authentication'], body: unknown) {
  if (current.type !== 'sas' || next.type !== 'sas') return next;
  const given = (body as { authentication?: { symmetricKey?: { primaryKey?: unknown } } } | undefined)?.authentication?.symmetricKey?.primaryKey;
  return given ? next : current;
}

function decodeContinuation(token: string): string {
  const id = Buffer.from(token, 'base64url').toString('utf8');
  if (id.length === 0 || Buffer.from(id).toString('base64url') !== token) {
    throw new HubError('ArgumentInvalid', 'The continuation token is not one this hub issued');
  }
  return id;
}
