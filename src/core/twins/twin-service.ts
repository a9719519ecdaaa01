import { identityKey } from '../../domain/device-identity.js';
import { HubError, isHubError } from '../../domain/errors.js';
import { normaliseIfMatch, type DeviceRecord, type ModuleRecord } from '../../domain/identity.js';
import { isJsonObject, mergePatch, patchSection, replacementPatch, replaceSection, sectionBytes, validateTwinObject, type TwinLimits } from '../../domain/twin-patch.js';
import { versionOfTwinEtag, type JsonObject, type TwinRecord, type TwinTarget } from '../../domain/twin.js';
import type { MessageBus } from '../../ports/message-bus.js';
import type { RegistryStore } from '../../ports/registry-store.js';
import { ABSENT, type TwinStore } from '../../ports/twin-store.js';
import type { ConnectionInfo } from '../registry/identity-view.js';
import { deviceSectionView, emptyTwin, twinView, type TwinView } from './twin-view.js';

/** A desired-property change as devices are told of it. */
export interface DesiredPatch {
  patch: JsonObject;
  version: number;
}

/** Twins whose last write this node remembers; past it the memory starts over. */
const LAST_WRITTEN_ENTRIES = 100_000;

/** Read-modify-write rounds before a write without If-Match gives up against concurrent writers. */
const MAX_ATTEMPTS = 20;

export function desiredSubject(target: TwinTarget): string {
  return `twin.desired.${identityKey(target.deviceId, target.moduleId)}`;
}

/**
 * Device and module twins: the service reads and patches tags and desired properties (etag-guarded), devices read
 * the twin and patch reported properties, and devices that listen are told of desired changes (through the bus, so
 * in a cluster the node holding the device hears it). Every write is a compare-and-swap on the twin's version.
 */
export class TwinService {
  /** The write each twin is waiting on, so writes to one twin run one after another, in the order they came. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** The twin each target had after this node's last write to it (records are never changed in place). */
  private readonly lastWritten = new Map<string, TwinRecord>();

  constructor(
    private readonly store: TwinStore,
    private readonly registry: RegistryStore,
    private readonly connectionInfo: (deviceId: string, moduleId?: string) => Promise<ConnectionInfo>,
    private readonly bus: MessageBus,
    readonly limits: TwinLimits,
    private readonly now: () => number,
  ) {}

  /** The service view. DeviceNotFound / ModuleNotFound when the identity does not exist. */
  async get(target: TwinTarget): Promise<TwinView> {
    const identity = await this.identity(target);
    return this.view(await this.current(target), identity);
  }

  /** `PATCH /twins/{id}`: merges tags and desired properties. */
  async patch(target: TwinTarget, body: unknown, ifMatch?: string): Promise<TwinView> {
    const { tags, desired } = this.serviceInput(body);
    const identity = await this.identity(target);
    const at = this.timestamp();
    const twin = await this.update(target, expectedOf(ifMatch), (current) => {
      const next: TwinRecord = { ...current, version: current.version + 1 };
      if (tags) next.tags = this.checkedTags(mergePatch(current.tags, tags));
      if (desired) next.desired = this.checkedSection(patchSection(current.desired, desired, at, true), 'desired');
      return next;
    });
    if (desired) this.announce(target, desired, twin.desired.version);
    return this.view(twin, identity);
  }

  /** `PUT /twins/{id}`: replaces tags and desired properties wholesale. */
  async replace(target: TwinTarget, body: unknown, ifMatch?: string): Promise<TwinView> {
    const { tags, desired } = this.serviceInput(body);
    const identity = await this.identity(target);
    const at = this.timestamp();
    let announced: JsonObject = {};
    const twin = await this.update(target, expectedOf(ifMatch), (current) => {
      announced = replacementPatch(current.desired.properties, desired ?? {});
      return {
        ...current,
        version: current.version + 1,
        tags: this.checkedTags(structuredClone(tags ?? {})),
        desired: this.checkedSection(replaceSection(current.desired, desired ?? {}, at, true), 'desired'),
      };
    });
    // Devices merge what they are told: keys the replacement dropped, at any depth, are sent as null.
    this.announce(target, announced, twin.desired.version);
    return this.view(twin, identity);
  }

  /** What a device's GET answers: `{"desired": {…, "$version"}, "reported": {…, "$version"}}`. */
  async deviceTwin(target: TwinTarget): Promise<{ desired: JsonObject; reported: JsonObject }> {
    const twin = await this.current(target);
    return { desired: deviceSectionView(twin.desired), reported: deviceSectionView(twin.reported) };
  }

  /** A device's reported-property patch; resolves the new reported `$version`. */
  async updateReported(target: TwinTarget, patch: unknown): Promise<number> {
    validateTwinObject(patch, 'the reported properties patch', this.limits.maxDepth);
    const at = this.timestamp();
    const twin = await this.update(target, undefined, (current) => ({
      ...current,
      version: current.version + 1,
      reported: this.checkedSection(patchSection(current.reported, patch, at, false), 'reported'),
    }));
    return twin.reported.version;
  }

  /** Tells `listener` of every desired-property change of the target until the returned function is called. */
  watchDesired(target: TwinTarget, listener: (change: DesiredPatch) => void): () => void {
    return this.bus.subscribe(desiredSubject(target), (payload) => {
      if (payload) listener(JSON.parse(payload.toString('utf8')) as DesiredPatch);
    });
  }

  /** The service view of an identity whose registry records the caller has already (queries read many at once). */
  async viewOf(device: DeviceRecord, module?: ModuleRecord): Promise<TwinView> {
    const target: TwinTarget = module ? { deviceId: device.deviceId, moduleId: module.moduleId } : { deviceId: device.deviceId };
    return this.viewFrom(device, module, await this.store.get(target));
  }

  /** The service view from records the caller has read; an absent twin is the empty twin. */
  async viewFrom(device: DeviceRecord, module: ModuleRecord | undefined, twin: TwinRecord | undefined): Promise<TwinView> {
    const target: TwinTarget = module ? { deviceId: device.deviceId, moduleId: module.moduleId } : { deviceId: device.deviceId };
    return twinView(twin ?? emptyTwin(target), module ?? device, device, await this.connectionInfo(target.deviceId, target.moduleId));
  }

  deleteDevice(deviceId: string): Promise<void> {
    for (const key of this.lastWritten.keys()) if (key === deviceId || key.startsWith(`${deviceId}/`)) this.lastWritten.delete(key);
    return this.store.deleteDevice(deviceId);
  }

  deleteModule(deviceId: string, moduleId: string): Promise<void> {
    this.lastWritten.delete(identityKey(deviceId, moduleId));
    return this.store.deleteModule(deviceId, moduleId);
  }

  private async current(target: TwinTarget): Promise<TwinRecord> {
    return (await this.store.get(target)) ?? emptyTwin(target);
  }

  /**
   * Writes to one twin are queued in this node: a device with several reported patches in flight gets them applied
   * in the order it sent them (racing compare-and-swap rounds would apply a loser after a later patch, and cost a
   * read and a retry each). Writers on other nodes still meet at the compare-and-swap.
   */
  private update(target: TwinTarget, expected: number | undefined, change: (current: TwinRecord) => TwinRecord): Promise<TwinRecord> {
    const key = identityKey(target.deviceId, target.moduleId);
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(
      () => this.compareAndSwap(target, expected, change),
      () => this.compareAndSwap(target, expected, change),
    );
    const settled = run.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return run;
  }

  /**
   * Compare-and-swap rounds; with an expected version only one, which must match. Writes without one start from the
   * twin this node wrote last, when it has it (a device's reported patches then cost no read); if another node wrote
   * since, the swap fails, and the round starts again from the store.
   */
  private async compareAndSwap(target: TwinTarget, expected: number | undefined, change: (current: TwinRecord) => TwinRecord): Promise<TwinRecord> {
    const key = identityKey(target.deviceId, target.moduleId);
    for (let attempt = 1; ; attempt++) {
      const known = expected === undefined ? this.lastWritten.get(key) : undefined;
      const stored = known ?? (await this.store.get(target));
      const current = stored ?? emptyTwin(target);
      if (expected !== undefined && expected !== current.version) throw preconditionFailed();
      const next = change(current);
      try {
        await this.store.put(next, stored ? stored.version : ABSENT);
        if (this.lastWritten.size >= LAST_WRITTEN_ENTRIES) this.lastWritten.clear();
        this.lastWritten.set(key, next);
        return next;
      } catch (err) {
        this.lastWritten.delete(key);
        if (!isHubError(err, 'PreconditionFailed')) throw err;
        if (expected !== undefined) throw preconditionFailed();
        if (attempt >= MAX_ATTEMPTS) throw new HubError('ThrottlingException', 'The twin is being changed by too many writers at once; try again');
      }
    }
  }

  private serviceInput(body: unknown): { tags?: JsonObject; desired?: JsonObject } {
    if (!isJsonObject(body)) throw new HubError('ArgumentInvalid', 'The twin patch must be a JSON object');
    const input: { tags?: JsonObject; desired?: JsonObject } = {};
    if (body.tags !== undefined && body.tags !== null) {
      validateTwinObject(body.tags, 'tags', this.limits.maxDepth);
      input.tags = body.tags;
    }
    const properties = body.properties;
    if (properties !== undefined && properties !== null) {
      if (!isJsonObject(properties)) throw new HubError('ArgumentInvalid', 'properties must be a JSON object');
      if (properties.reported !== undefined) throw new HubError('ArgumentInvalid', 'Reported properties are written by the device, not the service');
      if (properties.desired !== undefined && properties.desired !== null) {
        const desired = withoutReadOnly(properties.desired);
        validateTwinObject(desired, 'properties.desired', this.limits.maxDepth);
        input.desired = desired;
      }
    }
    return input;
  }

  private checkedTags(tags: JsonObject): JsonObject {
    if (sectionBytes(tags) > this.limits.maxTagsBytes) throw tooLarge('tags', this.limits.maxTagsBytes);
    return tags;
  }

  private checkedSection<T extends { properties: JsonObject }>(section: T, which: 'desired' | 'reported'): T {
    const limit = which === 'desired' ? this.limits.maxDesiredBytes : this.limits.maxReportedBytes;
    if (sectionBytes(section.properties) > limit) throw tooLarge(`${which} properties`, limit);
    return section;
  }

  private announce(target: TwinTarget, patch: JsonObject, version: number): void {
    this.bus.publish(desiredSubject(target), Buffer.from(JSON.stringify({ patch, version } satisfies DesiredPatch)));
  }

  private async identity(target: TwinTarget): Promise<DeviceRecord | ModuleRecord> {
    const device = await this.registry.getDevice(target.deviceId);
    if (!device) throw new HubError('DeviceNotFound', `Device ${target.deviceId} is not registered`);
    if (target.moduleId === undefined) return device;
    const mod = await this.registry.getModule(target.deviceId, target.moduleId);
    if (!mod) throw new HubError('ModuleNotFound', `Module ${target.moduleId} is not registered on device ${target.deviceId}`);
    return mod;
  }

  private async view(twin: TwinRecord, identity: DeviceRecord | ModuleRecord): Promise<TwinView> {
    const device = 'moduleId' in identity ? ((await this.registry.getDevice(identity.deviceId)) ?? fail()) : identity;
    const conn = await this.connectionInfo(twin.deviceId, twin.moduleId);
    return twinView(twin, identity, device, conn);
  }

  private timestamp(): string {
    return new Date(this.now()).toISOString();
  }
}

/** The SDKs send back what they read: `$metadata` and `$version` are the hub's and are dropped from a patch. */
function withoutReadOnly(desired: unknown): unknown {
  if (!isJsonObject(desired)) return desired;
  const { $metadata: _m, $version: _v, ...rest } = desired;
  return rest;
}

function expectedOf(ifMatch: string | undefined): number | undefined {
  const etag = normaliseIfMatch(ifMatch);
  if (etag === undefined || etag === '*') return undefined;
  const version = versionOfTwinEtag(etag);
  if (version === undefined) throw preconditionFailed();
  return version;
}

function preconditionFailed(): HubError {
  return new HubError('PreconditionFailed', 'The twin has changed since the etag given in If-Match');
}

function tooLarge(what: string, limit: number): HubError {
  return new HubError('ArgumentInvalid', `The ${what} would be larger than ${limit} bytes`);
}

function fail(): never {
  throw new HubError('DeviceNotFound', 'The device was deleted');
}
