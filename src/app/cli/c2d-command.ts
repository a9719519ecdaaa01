import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import rhea, { type Message } from 'rhea';
import { ACK_PROPERTY, type FeedbackRecord } from '../../domain/c2d.js';
import { DEFAULTS } from '../config.js';
import { CliError } from './cli-error.js';
import { deviceboundTo, sendC2dMessage, type C2dRecipient } from './c2d-sender.js';
import { tailFeedback } from './feedback-tail.js';
import { HubRestClient } from './hub-rest-client.js';
import { closeServiceAmqp, openServiceAmqp } from './service-amqp.js';
import { C2D_USAGE } from './usage.js';
import { propertiesOf } from './property-flags.js';

const ACKS = ['none', 'positive', 'negative', 'full'];

type Env = NodeJS.ProcessEnv;
const dataDirOf = (values: { 'data-dir'?: string }, env: Env) => values['data-dir'] ?? env.LAZULI_DATA_DIR ?? DEFAULTS.dataDir;

/** `lazuli c2d send|feedback|purge`: cloud-to-device messaging as a back end, like `az iot device c2d-message`. */
export async function c2dCommand(args: string[], env: Env): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'send':
      return send(rest, env);
    case 'feedback':
      return feedback(rest, env);
    case 'purge':
      return purge(rest, env);
    default:
      throw new CliError(`lazuli c2d needs one of send, feedback, purge\n\n${C2D_USAGE}`, 2);
  }
}

async function send(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      'data-dir': { type: 'string' },
      device: { type: 'string' },
      module: { type: 'string' },
      ack: { type: 'string' },
      property: { type: 'string', multiple: true },
      'message-id': { type: 'string' },
      'correlation-id': { type: 'string' },
      'content-type': { type: 'string' },
      'expiry-seconds': { type: 'string' },
    },
  });
  const recipient = recipientOf(values, 'send');
  if (positionals.length === 0) throw new CliError(`lazuli c2d send needs a BODY (use '' for an empty one)\n\n${C2D_USAGE}`, 2);
  if (values.ack !== undefined && !ACKS.includes(values.ack)) throw new CliError(`--ack must be one of ${ACKS.join(', ')}, not "${values.ack}"`, 2);
  const applicationProperties: Record<string, string> = propertiesOf(values.property ?? []);
  if (values.ack !== undefined) applicationProperties[ACK_PROPERTY] = values.ack;
  const messageId = values['message-id'] ?? randomUUID();
  const message: Message = {
    to: deviceboundTo(recipient),
    message_id: messageId,
    body: rhea.message.data_section(Buffer.from(positionals.join(' '), 'utf8')),
    application_properties: applicationProperties,
  };
  if (values['correlation-id'] !== undefined) message.correlation_id = values['correlation-id'];
  if (values['content-type'] !== undefined) message.content_type = values['content-type'];
  if (values['expiry-seconds'] !== undefined) message.absolute_expiry_time = new Date(Date.now() + positiveWhole(values['expiry-seconds'], 'expiry-seconds') * 1000);

  const client = await openServiceAmqp(dataDirOf(values, env));
  try {
    await sendC2dMessage(client, message);
  } finally {
    await closeServiceAmqp(client);
  }
  process.stdout.write(messageId + '\n');
  return 0;
}

async function feedback(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { 'data-dir': { type: 'string' }, json: { type: 'boolean' }, count: { type: 'string' } },
  });
  if (positionals.length > 0) throw new CliError(`unexpected arguments: ${positionals.join(' ')}`, 2);
  const limit = values.count === undefined ? Infinity : positiveWhole(values.count, 'count');
  const client = await openServiceAmqp(dataDirOf(values, env));
  const print = (record: FeedbackRecord) => process.stdout.write((values.json ? JSON.stringify(record) : describeRecord(record)) + '\n');
  const tail = tailFeedback(client, limit, print);
  const stop = () => tail.stop();
  const signals = ['SIGINT', 'SIGTERM'] as const;
  for (const signal of signals) process.once(signal, stop);
  process.stderr.write('waiting for feedback; Ctrl-C to stop\n');
  try {
    await tail.done;
  } finally {
    for (const signal of signals) process.removeListener(signal, stop);
    await closeServiceAmqp(client);
  }
  return 0;
}

async function purge(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { 'data-dir': { type: 'string' }, device: { type: 'string' }, module: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals.length > 0) throw new CliError(`unexpected arguments: ${positionals.join(' ')}`, 2);
  const { deviceId, moduleId } = recipientOf(values, 'purge');
  const device = `/devices/${encodeURIComponent(deviceId)}`;
  const path = moduleId === undefined ? `${device}/commands` : `${device}/modules/${encodeURIComponent(moduleId)}/commands`;
  const result = (await new HubRestClient(dataDirOf(values, env)).call('DELETE', path)).body as { totalMessagesPurged: number };
  const who = moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`;
  process.stdout.write(values.json ? JSON.stringify(result) + '\n' : `purged ${result.totalMessagesPurged} message(s) from the queue of ${who}\n`);
  return 0;
}

function recipientOf(values: { device?: string; module?: string }, action: string): C2dRecipient {
  if (!values.device) throw new CliError(`lazuli c2d ${action} needs --device ID\n\n${C2D_USAGE}`, 2);
  if (values.module === '') throw new CliError('--module needs a module id', 2);
  return values.module === undefined ? { deviceId: values.device } : { deviceId: values.device, moduleId: values.module };
}

function positiveWhole(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new CliError(`--${flag} must be a positive whole number, not "${text}"`, 2);
  return Number(text);
}

/** `<time> <statusCode> device=<id> message=<originalMessageId>` */
function describeRecord(r: FeedbackRecord): string {
  return `${r.enqueuedTimeUtc} ${r.statusCode} device=${r.deviceId} message=${r.originalMessageId}`;
}
