import { parseArgs } from 'node:util';
import { formatConnectionString } from '../../domain/connection-string.js';
import type { DeviceView } from '../../core/registry/identity-view.js';
import { DEFAULTS } from '../config.js';
import { CliError } from './cli-error.js';
import { DEVICE_USAGE } from './usage.js';
import { connectionHostName } from './hub-address.js';
import { HubRestClient } from './hub-rest-client.js';
import { formatRecord, formatTable } from './table.js';


const OPTIONS = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  status: { type: 'string' },
  'status-reason': { type: 'string' },
  'primary-key': { type: 'string' },
  'secondary-key': { type: 'string' },
  edge: { type: 'boolean' },
  top: { type: 'string' },
} as const;

export async function deviceCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const [action, id, ...extra] = positionals;
  if (extra.length > 0) throw new CliError(`unexpected arguments: ${extra.join(' ')}`, 2);
  const client = new HubRestClient(values['data-dir'] ?? env.LAZULI_DATA_DIR ?? DEFAULTS.dataDir);
  const needId = (): string => {
    if (!id) throw new CliError(`lazuli device ${action} needs a device id\n\n${DEVICE_USAGE}`, 2);
    return id;
  };
  const path = () => `/devices/${encodeURIComponent(needId())}`;
  const print = (text: string, json: unknown) => process.stdout.write(values.json ? JSON.stringify(json, null, 2) + '\n' : text);

  switch (action) {
    case 'create': {
      const body = { deviceId: needId(), status: values.status ?? 'enabled', authentication: keys(values), capabilities: { iotEdge: values.edge ?? false } };
      const device = (await client.call('PUT', path(), body)).body as DeviceView;
      print(describe(device), device);
      return 0;
    }
    case 'list': {
      const top = values.top === undefined ? '' : `?top=${encodeURIComponent(values.top)}`;
      const devices = (await client.call('GET', `/devices${top}`)).body as DeviceView[];
      const rows = devices.map((d) => [d.deviceId, d.status, d.connectionState, d.authentication.type, String(d.cloudToDeviceMessageCount)]);
      print(formatTable(['DEVICE ID', 'STATUS', 'CONNECTION', 'AUTH', 'C2D QUEUED'], rows), devices);
      return 0;
    }
    case 'show': {
      const device = (await client.call('GET', path())).body as DeviceView;
      print(describe(device), device);
      return 0;
    }
    case 'update': {
      const current = (await client.call('GET', path())).body as DeviceView;
      const next = {
        ...current,
        status: values.status ?? current.status,
        statusReason: values['status-reason'] ?? current.statusReason,
        authentication: values['primary-key'] || values['secondary-key'] ? keys(values) : current.authentication,
      };
      const device = (await client.call('PUT', path(), next, { 'if-match': `"${current.etag}"` })).body as DeviceView;
      print(describe(device), device);
      return 0;
    }
    case 'delete': {
      await client.call('DELETE', path(), undefined, { 'if-match': '"*"' });
      print(`deleted ${needId()}\n`, { deleted: needId() });
      return 0;
    }
    case 'connection-string': {
      const device = (await client.call('GET', path())).body as DeviceView;
      const key = device.authentication.symmetricKey.primaryKey;
      if (!key) throw new CliError(`device "${device.deviceId}" authenticates with ${device.authentication.type}, not a symmetric key`);
      const text = formatConnectionString([
        ['HostName', connectionHostName(client.settings)],
        ['DeviceId', device.deviceId],
        ['SharedAccessKey', key],
      ]);
      print(text + '\n', { connectionString: text });
      return 0;
    }
    default:
      throw new CliError(`lazuli device needs one of create, list, show, update, delete, connection-string\n\n${DEVICE_USAGE}`, 2);
  }
}

function keys(values: { 'primary-key'?: string; 'secondary-key'?: string }) {
  return { type: 'sas', symmetricKey: { primaryKey: values['primary-key'] ?? '', secondaryKey: values['secondary-key'] ?? '' } };
}

function describe(d: DeviceView): string {
  return formatRecord([
    ['deviceId', d.deviceId],
    ['status', d.status + (d.statusReason ? ` (${d.statusReason})` : '')],
    ['connectionState', d.connectionState],
    ['authentication', d.authentication.type],
    ['primaryKey', d.authentication.symmetricKey.primaryKey ?? '-'],
    ['secondaryKey', d.authentication.symmetricKey.secondaryKey ?? '-'],
    ['iotEdge', String(d.capabilities.iotEdge)],
    ['generationId', d.generationId],
    ['etag', d.etag],
    ['cloudToDeviceMessageCount', String(d.cloudToDeviceMessageCount)],
  ]);
}
