import { parseArgs } from 'node:util';
import { DEFAULTS } from '../config.js';
import { CliError } from './cli-error.js';
import { HubRestClient } from './hub-rest-client.js';
import { METHOD_USAGE } from './usage.js';

const OPTIONS = {
  'data-dir': { type: 'string' },
  module: { type: 'string' },
  payload: { type: 'string' },
  timeout: { type: 'string' },
  'connect-timeout': { type: 'string' },
} as const;

/** `lazuli method invoke`: calls a direct method as a back end, like `az iot hub invoke-device-method`. */
export async function methodCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const [action, deviceId, methodName, ...extra] = positionals;
  if (action !== 'invoke') throw new CliError(`lazuli method needs invoke\n\n${METHOD_USAGE}`, 2);
  if (!deviceId || !methodName) throw new CliError(`lazuli method invoke needs a device id and a method name\n\n${METHOD_USAGE}`, 2);
  if (extra.length > 0) throw new CliError(`unexpected arguments: ${extra.join(' ')}`, 2);
  if (values.module === '') throw new CliError('--module needs a module id', 2);

  const body = {
    methodName,
    payload: values.payload === undefined ? null : parsePayload(values.payload),
    responseTimeoutInSeconds: values.timeout === undefined ? 30 : wholeSeconds(values.timeout, 'timeout'),
    connectTimeoutInSeconds: values['connect-timeout'] === undefined ? 0 : wholeSeconds(values['connect-timeout'], 'connect-timeout'),
  };
  const device = `/twins/${encodeURIComponent(deviceId)}`;
  const path = values.module === undefined ? `${device}/methods` : `${device}/modules/${encodeURIComponent(values.module)}/methods`;
  const client = new HubRestClient(values['data-dir'] ?? env.LAZULI_DATA_DIR ?? DEFAULTS.dataDir);
  const result = (await client.call('POST', path, body)).body;
  // A device that answered with something other than JSON comes back as text: printed as it is.
  process.stdout.write((typeof result === 'string' ? result : JSON.stringify(result, null, 2)) + '\n');
  return 0;
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`--payload must be JSON (quote a string as '"text"'): ${(err as Error).message}`, 2);
  }
}

function wholeSeconds(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`--${flag} must be a whole number of seconds, not "${text}"`, 2);
  return Number(text);
}
