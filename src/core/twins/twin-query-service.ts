import { HubError } from '../../domain/errors.js';
import type { DeviceRecord } from '../../domain/identity.js';
import { isAggregate, parseQuery, QuerySyntaxError, runQuery, type Query } from '../../domain/query/index.js';
import type { RegistryStore } from '../../ports/registry-store.js';
import type { TwinCandidate, TwinQueryCursor, TwinQueryIndex } from '../../ports/twin-query-index.js';
import type { TwinService } from './twin-service.js';
import type { TwinView } from './twin-view.js';

export const DEFAULT_QUERY_PAGE = 100;
export const MAX_QUERY_PAGE = 1000;
/** Devices read from the registry per step of a scan. */
const SCAN_CHUNK = 200;
/** Candidates asked of the index per step of an aggregate or TOP query (row queries ask for a page and one more). */
const CANDIDATE_CHUNK = 1000;

export interface QueryPage {
  items: object[];
  /** `twin` for `SELECT *`, `raw` for projections and aggregates: the `x-ms-item-type` header. */
  kind: 'twin' | 'raw';
  /** Present when more results follow. */
  continuation?: string;
}

/** The views of one device's targets (none when a device has no module to show), in query order. */
interface DeviceViews {
  deviceId: string;
  views: TwinView[];
  /** Whether the registry has a device after this one, when that is known without asking. */
  followed: boolean | undefined;
}

/**
 * `POST /devices/query`: the IoT Hub query language over twin views, device by device (and module by module for
 * `FROM devices.modules`) in device id order. Row queries page: the continuation names the last device scanned, and
 * is given whenever a device follows it. Aggregates and TOP queries scan everything and answer in one page. With a
 * TwinQueryIndex (a SQL store) the store narrows the targets to candidates and returns their records in bulk;
 * without one every device is read. Either way the whole query is evaluated here on the views, so answers are the
 * same.
 */
export class TwinQueryService {
  constructor(
    private readonly twins: TwinService,
    private readonly registry: RegistryStore,
    private readonly index?: TwinQueryIndex,
  ) {}

  async query(text: unknown, pageSize: number = DEFAULT_QUERY_PAGE, continuation?: string): Promise<QueryPage> {
    if (typeof text !== 'string' || text.trim() === '') throw new HubError('ArgumentInvalid', 'The body must be {"query": "SELECT ..."}');
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_QUERY_PAGE) {
      throw new HubError('ArgumentInvalid', `x-ms-max-item-count must be a whole number from 1 to ${MAX_QUERY_PAGE}`);
    }
    let query: Query;
    try {
      query = parseQuery(text);
    } catch (err) {
      if (err instanceof QuerySyntaxError) throw new HubError('ArgumentInvalid', err.message);
      throw err;
    }
    if (isAggregate(query) || query.top !== undefined) {
      const all: TwinView[] = [];
      for await (const device of this.devices(query, undefined, CANDIDATE_CHUNK)) all.push(...device.views);
      const { items, kind } = runQuery(query, all);
      return { items, kind };
    }
    const items: object[] = [];
    let kind: 'twin' | 'raw' = query.select === undefined ? 'twin' : 'raw';
    const after = continuation === undefined ? undefined : decodeContinuation(continuation);
    // Device by device, so the page ends on a device boundary the continuation can name.
    for await (const { deviceId, views, followed } of this.devices(query, after, pageSize + 1)) {
      const result = runQuery(query, views);
      kind = result.kind;
      items.push(...result.items);
      if (items.length >= pageSize) {
        const more = followed ?? (await this.registry.listDevices({ after: deviceId, limit: 1 })).length > 0;
        return { items, kind, ...(more ? { continuation: encodeContinuation(deviceId) } : {}) };
      }
    }
    return { items, kind };
  }

  /** `batch`: how many candidates to ask the index for at a time. */
  private devices(query: Query, after: string | undefined, batch: number): AsyncGenerator<DeviceViews> {
    return this.index ? this.candidates(this.index, query, after, batch) : this.scan(query, after);
  }

  /** Every device, a chunk of devices at a time. */
  private async *scan(query: Query, after: string | undefined): AsyncGenerator<DeviceViews> {
    let cursor = after;
    for (;;) {
      const devices = await this.registry.listDevices({ limit: SCAN_CHUNK + 1, ...(cursor === undefined ? {} : { after: cursor }) });
      const page = devices.slice(0, SCAN_CHUNK);
      if (page.length === 0) return;
      const more = devices.length > SCAN_CHUNK;
      for (const [i, device] of page.entries()) {
        yield { deviceId: device.deviceId, views: await this.viewsOf(device, query.from === 'devices.modules'), followed: more || i < page.length - 1 };
      }
      if (!more) return;
      cursor = page[page.length - 1]!.deviceId;
    }
  }

  private async viewsOf(device: DeviceRecord, modules: boolean): Promise<TwinView[]> {
    if (!modules) return [await this.twins.viewOf(device)];
    const mods = await this.registry.listModules(device.deviceId);
    return Promise.all(mods.map((m) => this.twins.viewOf(device, m)));
  }

  /**
   * The candidate targets, grouped by device. A page of candidates can end inside a device's modules, so a device is
   * complete once the next device's first candidate is seen, or the candidates run out.
   */
  private async *candidates(index: TwinQueryIndex, query: Query, after: string | undefined, batch: number): AsyncGenerator<DeviceViews> {
    let cursor: TwinQueryCursor | undefined = after === undefined ? undefined : { deviceId: after };
    let device: TwinCandidate[] = [];
    for (;;) {
      const page = await index.candidates({ from: query.from, where: query.where, limit: batch, ...(cursor === undefined ? {} : { after: cursor }) });
      for (const candidate of page) {
        if (device.length > 0 && device[0]!.device.deviceId !== candidate.device.deviceId) {
          yield await this.viewsFrom(device, true);
          device = [];
        }
        device.push(candidate);
      }
      if (page.length < batch) {
        if (device.length > 0) yield await this.viewsFrom(device, undefined);
        return;
      }
      const last = page[page.length - 1]!;
      cursor = { deviceId: last.device.deviceId, ...(last.module === undefined ? {} : { moduleId: last.module.moduleId }) };
    }
  }

  private async viewsFrom(candidates: TwinCandidate[], followed: boolean | undefined): Promise<DeviceViews> {
    const views = await Promise.all(candidates.map((c) => this.twins.viewFrom(c.device, c.module, c.twin)));
    return { deviceId: candidates[0]!.device.deviceId, views, followed };
  }
}

function encodeContinuation(deviceId: string): string {
  return Buffer.from(deviceId).toString('base64url');
}

function decodeContinuation(token: string): string {
  const id = Buffer.from(token, 'base64url').toString('utf8');
  if (id.length === 0 || encodeContinuation(id) !== token) throw new HubError('ArgumentInvalid', 'The continuation token is not one this hub issued');
  return id;
}
