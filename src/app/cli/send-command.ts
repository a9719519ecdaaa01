import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DeviceView } from '../../core/registry/identity-view.js';
import { createSasToken } from '../../domain/sas.js';
import { DEFAULTS } from '../config.js';
import { CliError } from './cli-error.js';
import { amqpSender } from './device-senders/amqp-sender.js';
import type { DeviceEndpoint, DeviceSender } from './device-senders/device-sender.js';
import { httpsSender } from './device-senders/https-sender.js';
import { mqttSender } from './device-senders/mqtt-sender.js';
import { localDialAddress } from './hub-address.js';
import { HubRestClient } from './hub-rest-client.js';
import { SEND_USAGE } from './usage.js';
import { propertiesOf } from './property-flags.js';

const PROTOCOLS = ['mqtt', 'amqp', 'https'] as const;

/** `lazuli send`: telemetry as a registered device, over the protocol asked for. */
export async function sendCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      'data-dir': { type: 'string' },
      device: { type: 'string' },
      protocol: { type: 'string', default: 'mqtt' },
      count: { type: 'string', default: '1' },
      interval: { type: 'string', default: '0' },
      property: { type: 'string', multiple: true },
      quiet: { type: 'boolean' },
    },
  });
  const protocol = values.protocol as (typeof PROTOCOLS)[number];
  if (!values.device) throw new CliError(`lazuli send needs --device ID\n\n${SEND_USAGE}`, 2);
  if (!PROTOCOLS.includes(protocol)) throw new CliError(`--protocol must be one of ${PROTOCOLS.join(', ')}`, 2);
  const count = wholeNumber(values.count, 'count');
  const interval = wholeNumber(values.interval, 'interval');
  const properties = propertiesOf(values.property ?? []);
  const body = positionals.join(' ') || '{"hello":"lazuli","n":{n}}';

  const dataDir = values['data-dir'] ?? env.LAZULI_DATA_DIR ?? DEFAULTS.dataDir;
  const client = new HubRestClient(dataDir);
  const device = (await client.call('GET', `/devices/${encodeURIComponent(values.device)}`)).body as DeviceView;
  const key = device.authentication.symmetricKey.primaryKey;
  if (!key) throw new CliError(`device "${device.deviceId}" has no symmetric key`);
  const { settings } = client;
  const endpoint: DeviceEndpoint = {
    host: localDialAddress(settings),
    port: settings.ports[protocol === 'https' ? 'https' : protocol],
    hostname: settings.hostname,
    ca: readFileSync(join(dataDir, 'ca.pem'), 'utf8'),
    deviceId: device.deviceId,
    token: createSasToken({ resource: `${settings.hostname}/devices/${device.deviceId}`, keyBase64: key, expiry: Date.now() / 1000 + 3600 }),
  };

  const sender: DeviceSender = protocol === 'mqtt' ? await mqttSender(endpoint) : protocol === 'amqp' ? await amqpSender(endpoint) : httpsSender(endpoint);
  const started = Date.now();
  try {
    for (let n = 0; n < count; n++) {
      const text = body.replaceAll('{n}', String(n));
      await sender.send(Buffer.from(text), properties);
      if (!values.quiet) process.stdout.write(`sent ${n + 1}/${count} over ${protocol}: ${text}\n`);
      if (interval > 0 && n + 1 < count) await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    await sender.close();
  }
  const seconds = (Date.now() - started) / 1000;
  process.stderr.write(`${count} message(s) acknowledged over ${protocol} in ${seconds.toFixed(2)} s\n`);
  return 0;
}

function wholeNumber(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`--${flag} must be a whole number, not "${text}"`, 2);
  return Number(text);
}
