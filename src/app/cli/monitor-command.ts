import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Message } from 'rhea';
import { OWNER_POLICY } from '../../domain/permissions.js';
import { DEFAULTS } from '../config.js';
import { readPolicies, requireSettings } from '../data-dir.js';
import { CliError } from './cli-error.js';
import { openEventHubReader } from './event-hub-reader.js';
import { localDialAddress } from './hub-address.js';

/** `lazuli monitor`: tails telemetry through the Event Hub-compatible endpoint, like `az iot hub monitor-events`. */
export async function monitorCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      'data-dir': { type: 'string' },
      device: { type: 'string' },
      'consumer-group': { type: 'string', default: '$Default' },
      properties: { type: 'boolean' },
      from: { type: 'string', default: 'end' },
      json: { type: 'boolean' },
      count: { type: 'string' },
    },
  });
  const dataDir = values['data-dir'] ?? env.LAZULI_DATA_DIR ?? DEFAULTS.dataDir;
  const settings = requireSettings(dataDir);
  const owner = readPolicies(dataDir)?.find((p) => p.name === OWNER_POLICY);
  if (!owner) throw new CliError(`no ${OWNER_POLICY} policy in ${dataDir}`);
  const limit = values.count === undefined ? Infinity : Number(values.count);
  if (!(limit > 0)) throw new CliError('--count must be a positive number', 2);

  let seen = 0;
  return new Promise<number>((resolve, reject) => {
    let reader: { close(): void } | undefined;
    let finished = false;
    const finish = (code: number) => {
      finished = true;
      reader?.close();
      resolve(code);
    };
    process.once('SIGINT', () => finish(0));
    openEventHubReader({
      host: localDialAddress(settings),
      port: settings.ports.amqp,
      hostname: settings.hostname,
      ca: readFileSync(join(dataDir, 'ca.pem'), 'utf8'),
      hubName: settings.name,
      consumerGroup: values['consumer-group'],
      policyName: owner.name,
      policyKey: owner.primaryKey,
      partitionCount: settings.partitions,
      filter: startFilter(values.from),
      onEvent: (partition, message) => {
        if (finished) return; // the rest of a batch already on its way
        const annotations = message.message_annotations ?? {};
        if (values.device !== undefined && annotations['iothub-connection-device-id'] !== values.device) return;
        process.stdout.write(formatEvent(partition, message, values.json === true, values.properties === true) + '\n');
        if (++seen >= limit) finish(0);
      },
      onError: (err) => {
        if (finished) return;
        process.stderr.write(`lazuli: ${err.message}\n`);
        finish(1);
      },
    }).then((r) => {
      reader = r;
      process.stderr.write(`monitoring ${settings.name} (${settings.partitions} partitions, consumer group ${values['consumer-group']}); Ctrl-C to stop\n`);
    }, reject);
  });
}

/** `start`, `end`, or a time (ISO 8601 or ms since the epoch). */
function startFilter(from: string): string {
  if (from === 'start') return "amqp.annotation.x-opt-offset > '-1'";
  if (from === 'end') return "amqp.annotation.x-opt-offset > '@latest'";
  const ms = /^\d+$/.test(from) ? Number(from) : Date.parse(from);
  if (Number.isNaN(ms)) throw new CliError(`--from takes start, end or a time, not "${from}"`, 2);
  return `amqp.annotation.x-opt-enqueued-time >= '${ms}'`;
}

function formatEvent(partition: number, message: Message, json: boolean, withProperties: boolean): string {
  const a = message.message_annotations ?? {};
  const body = bodyBytes(message.body);
  const text = body.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(body) && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  let payload: unknown = printable ? text : body.toString('base64');
  if (printable) {
    try {
      payload = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
  }
  const event: Record<string, unknown> = {
    origin: a['iothub-connection-device-id'],
    module: a['iothub-connection-module-id'] ?? '',
    partition,
    sequenceNumber: Number(a['x-opt-sequence-number']),
    enqueuedTime: new Date(Number(a['x-opt-enqueued-time'] ?? a['iothub-enqueuedtime'])).toISOString(),
    payload,
  };
  if (withProperties) {
    event.properties = { application: message.application_properties ?? {}, system: systemProperties(message) };
  }
  if (json) return JSON.stringify({ event });
  const who = event.module ? `${String(event.origin)}/${String(event.module)}` : String(event.origin);
  const line = `${event.enqueuedTime} ${who} [p${partition} #${event.sequenceNumber}] ${typeof payload === 'string' ? payload : JSON.stringify(payload)}`;
  return withProperties ? `${line}\n  properties: ${JSON.stringify(event.properties)}` : line;
}

function systemProperties(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ messageId: m.message_id, correlationId: m.correlation_id, contentType: m.content_type, contentEncoding: m.content_encoding })) {
    if (v !== undefined) out[k] = String(v);
  }
  return out;
}

function bodyBytes(body: unknown): Buffer {
  const b = body as { typecode?: number; content?: unknown } | Buffer | string | undefined;
  if (Buffer.isBuffer(b)) return b;
  if (typeof b === 'string') return Buffer.from(b);
  if (b && typeof b === 'object' && 'content' in b) return bodyBytes(b.content);
  return Buffer.from(JSON.stringify(b ?? null));
}
