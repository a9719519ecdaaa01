import { parseArgs } from 'node:util';
import type { TwinView } from '../../core/twins/twin-view.js';
import { DEFAULTS } from '../config.js';
import { CliError } from './cli-error.js';
import { HubRestClient } from './hub-rest-client.js';
import { QUERY_USAGE, TWIN_USAGE } from './usage.js';

const TWIN_OPTIONS = {
  'data-dir': { type: 'string' },
  module: { type: 'string' },
  etag: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const QUERY_OPTIONS = {
  'data-dir': { type: 'string' },
  'page-size': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** `lazuli twin show|update-desired|tags`: reads and patches device and module twins as a back end. */
export async function twinCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: TWIN_OPTIONS, allowPositionals: true, strict: true });
  const [action, deviceId, patchText, ...extra] = positionals;
  if (action !== 'show' && action !== 'update-desired' && action !== 'tags') {
    throw new CliError(`lazuli twin needs one of show, update-desired, tags\n\n${TWIN_USAGE}`, 2);
  }
  if (!deviceId) throw new CliError(`lazuli twin ${action} needs a device id\n\n${TWIN_USAGE}`, 2);
  if (values.module === '') throw new CliError('--module needs a module id', 2);
  const device = `/twins/${encodeURIComponent(deviceId)}`;
  const path = values.module === undefined ? device : `${device}/modules/${encodeURIComponent(values.module)}`;

  if (action === 'show') {
    if (patchText !== undefined || extra.length > 0) throw new CliError(`unexpected arguments: ${[patchText, ...extra].join(' ')}`, 2);
    if (values.etag !== undefined) throw new CliError('--etag applies to update-desired and tags, not show', 2);
    const twin = await client(values, env).call('GET', path);
    process.stdout.write(JSON.stringify(twin.body, null, values.json ? undefined : 2) + '\n');
    return 0;
  }

  if (patchText === undefined) throw new CliError(`lazuli twin ${action} needs a JSON object\n\n${TWIN_USAGE}`, 2);
  if (extra.length > 0) throw new CliError(`unexpected arguments: ${extra.join(' ')}`, 2);
  const patch = parseObject(patchText, action === 'tags' ? 'the tags' : 'the desired properties');
  const body = action === 'tags' ? { tags: patch } : { properties: { desired: patch } };
  const ifMatch = values.etag === undefined ? '*' : ifMatchOf(values.etag);
  const twin = (await client(values, env).call('PATCH', path, body, { 'if-match': ifMatch })).body as TwinView;
  if (values.json) process.stdout.write(JSON.stringify(twin) + '\n');
  else if (action === 'tags') process.stdout.write(JSON.stringify(twin.tags, null, 2) + '\n');
  else process.stdout.write(`desired $version ${String(twin.properties.desired.$version)} (etag ${twin.etag})\n`);
  return 0;
}

/** `lazuli query`: runs an IoT Hub query, following continuation tokens until the last page. */
export async function queryCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: QUERY_OPTIONS, allowPositionals: true, strict: true });
  if (positionals.length !== 1 || positionals[0]!.trim() === '') {
    throw new CliError(`lazuli query needs the query as one quoted argument\n\n${QUERY_USAGE}`, 2);
  }
  const pageSize = values['page-size'];
  if (pageSize !== undefined && !/^[1-9]\d*$/.test(pageSize)) throw new CliError(`--page-size must be a positive whole number, not "${pageSize}"`, 2);

  const hub = client(values, env);
  const all: unknown[] = [];
  let continuation: string | undefined;
  do {
    const headers: Record<string, string> = {};
    if (pageSize !== undefined) headers['x-ms-max-item-count'] = pageSize;
    if (continuation !== undefined) headers['x-ms-continuation'] = continuation;
    const page = await hub.call('POST', '/devices/query', { query: positionals[0] }, headers);
    if (!Array.isArray(page.body)) throw new CliError('the hub answered the query with something other than a JSON array');
    // Lines are printed page by page, so a long result shows up as it arrives; --json needs the whole array first.
    if (values.json) all.push(...(page.body as unknown[]));
    else for (const item of page.body as unknown[]) process.stdout.write(JSON.stringify(item) + '\n');
    const next = page.headers['x-ms-continuation'];
    continuation = typeof next === 'string' && next !== '' ? next : undefined;
  } while (continuation !== undefined);
  if (values.json) process.stdout.write(JSON.stringify(all) + '\n');
  return 0;
}

function client(values: { 'data-dir'?: string | undefined }, env: NodeJS.ProcessEnv): HubRestClient {
  return new HubRestClient(values['data-dir'] ?? env.LAZULI_DATA_DIR ?? DEFAULTS.dataDir);
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${what} must be a JSON object such as '{"name":"value"}': ${(err as Error).message}`, 2);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CliError(`${what} must be a JSON object such as '{"name":"value"}', not ${text}`, 2);
  }
  return value as Record<string, unknown>;
}

/** `*` as is; an etag as `twin show` prints it (bare) or as HTTP writes it (quoted). */
function ifMatchOf(etag: string): string {
  const trimmed = etag.trim();
  if (trimmed === '') throw new CliError('--etag needs an etag (or *)', 2);
  if (trimmed === '*' || (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"'))) return trimmed;
  return `"${trimmed}"`;
}
