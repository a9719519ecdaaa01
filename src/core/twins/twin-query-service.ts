import { HubError } from '../../domain/errors.js';
import type { DeviceRecord } from '../../domain/identity.js';
import { isAggregate, parseQuery, QuerySyntaxError, runQuery, type Query } from '../../domain/query/index.js';
import type { RegistryStore } from '../../ports/registry-store.js';
import type { TwinService } from './twin-service.js';
import type { TwinView } from './twin-view.js';

export const DEFAULT_QUERY_PAGE = 100;
export const MAX_QUERY_PAGE = 1000;
/** Devices read from the registry per step of a scan. */
const SCAN_CHUNK = 200;

export interface QueryPage {
  items: object[];
  /** `twin` for `SELECT *`, `raw` for projections and aggregates: the `x-ms-item-type` header. */
  kind: 'twin' | 'raw';
  /** Present when more results follow. */
  continuation?: string;
}

/**
 * `POST /devices/query`: the IoT Hub query language over twin views, scanning devices (and their modules for
 * `FROM devices.modules`) in device id order. Row queries page: the continuation names the last device scanned.
 * Aggregates and TOP queries scan everything and answer in one page. The embedded store evaluates in the hub; a
 * SQL backend can compile the same Query tree instead.
 */
export class TwinQueryService {
  constructor(
    private readonly twins: TwinService,
    private readonly registry: RegistryStore,
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
      for await (const chunk of this.scan(query, undefined)) all.push(...chunk.views);
      const { items, kind } = runQuery(query, all);
      return { items, kind };
    }
    const items: object[] = [];
    let kind: 'twin' | 'raw' = query.select === undefined ? 'twin' : 'raw';
    let after = continuation === undefined ? undefined : decodeContinuation(continuation);
    for await (const chunk of this.scan(query, after)) {
      // Device by device, so the page ends on a device boundary the continuation can name.
      for (const [deviceId, views] of chunk.byDevice) {
        const result = runQuery(query, views);
        kind = result.kind;
        items.push(...result.items);
        after = deviceId;
        if (items.length >= pageSize) return { items, kind, ...(chunk.more || deviceId !== chunk.last ? { continuation: encodeContinuation(deviceId) } : {}) };
      }
    }
    return { items, kind };
  }

  /** Twin views in device id order, a chunk of devices at a time. */
  private async *scan(query: Query, after: string | undefined): AsyncGenerator<{ views: TwinView[]; byDevice: Map<string, TwinView[]>; last: string; more: boolean }> {
    let cursor = after;
    for (;;) {
      const devices = await this.registry.listDevices({ limit: SCAN_CHUNK + 1, ...(cursor === undefined ? {} : { after: cursor }) });
      const page = devices.slice(0, SCAN_CHUNK);
      if (page.length === 0) return;
      const byDevice = new Map<string, TwinView[]>();
      const views: TwinView[] = [];
      for (const device of page) {
        const mine = await this.viewsOf(device, query.from === 'devices.modules');
        byDevice.set(device.deviceId, mine);
        views.push(...mine);
      }
      const last = page[page.length - 1]!.deviceId;
      const more = devices.length > SCAN_CHUNK;
      yield { views, byDevice, last, more };
      if (!more) return;
      cursor = last;
    }
  }

  private async viewsOf(device: DeviceRecord, modules: boolean): Promise<TwinView[]> {
    if (!modules) return [await this.twins.viewOf(device)];
    const mods = await this.registry.listModules(device.deviceId);
    return Promise.all(mods.map((m) => this.twins.viewOf(device, m)));
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
