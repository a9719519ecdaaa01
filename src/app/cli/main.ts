import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.js';
import { DataDirError } from '../data-dir.js';
import { CliError } from './cli-error.js';
import { C2D_USAGE, CONNECTION_STRING_USAGE, CONSUMER_GROUP_USAGE, DEVICE_USAGE, METHOD_USAGE, MONITOR_USAGE, QUERY_USAGE, SEND_USAGE, START_USAGE, TWIN_USAGE } from './usage.js';

const USAGE = `Lazuli, a self-hostable IoT hub wire-compatible with Azure IoT Hub.

${START_USAGE}

${CONNECTION_STRING_USAGE}

${DEVICE_USAGE}

${SEND_USAGE}

${MONITOR_USAGE}

${C2D_USAGE}

${METHOD_USAGE}

${TWIN_USAGE}

${QUERY_USAGE}

${CONSUMER_GROUP_USAGE}

lazuli --version | --help`;

type Command = (args: string[], env: NodeJS.ProcessEnv) => Promise<number>;
// Loaded on demand: `connection-string` should not pay for Fastify, nor `--help` for SQLite.
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./start-command.js')).startCommand,
  'connection-string': async () => (await import('./connection-string-command.js')).connectionStringCommand,
  device: async () => (await import('./device-command.js')).deviceCommand,
  send: async () => (await import('./send-command.js')).sendCommand,
  monitor: async () => (await import('./monitor-command.js')).monitorCommand,
  c2d: async () => (await import('./c2d-command.js')).c2dCommand,
  method: async () => (await import('./method-command.js')).methodCommand,
  twin: async () => (await import('./twin-command.js')).twinCommand,
  query: async () => (await import('./twin-command.js')).queryCommand,
  'consumer-group': async () => (await import('./consumer-group-command.js')).consumerGroupCommand,
};

/** Runs one CLI invocation and returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(pkg.version + '\n');
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) return fail(`unknown command "${name}"\n\n${USAGE}`, 2);
  try {
    return await (await load())(rest, env);
  } catch (err) {
    if (err instanceof CliError) return fail(err.message, err.exitCode);
    if (err instanceof ConfigError || err instanceof DataDirError) return fail(err.message, 1);
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return fail(`${(err as Error).message}\n\n${USAGE}`, 2);
    throw err;
  }
}

function fail(message: string, code: number): number {
  process.stderr.write(`lazuli: ${message}\n`);
  return code;
}
