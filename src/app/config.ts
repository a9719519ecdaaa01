import { isIP } from 'node:net';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything `lazuli start` needs; each flag also reads LAZULI_<NAME> from the environment. */
export interface StartConfig {
  dataDir: string;
  /** Undefined: take the name recorded in the data dir, or the default for a new hub. */
  name?: string;
  hostname: string;
  bind?: string;
  mqttPort: number;
  amqpPort: number;
  httpsPort: number;
  /** Undefined: take the count recorded in the data dir, or the default for a new hub. */
  partitions?: number;
  logLevel: LogLevel;
  tlsCert?: string;
  tlsKey?: string;
  /** Largest device-to-cloud message (and batch), Azure's way of counting. */
  maxMessageBytes: number;
  /** Telemetry is kept this long... */
  retentionHours: number;
  /** ...and at most this much per partition. */
  retentionMbPerPartition: number;
  /** Cloud-to-device queues... */
  c2d: C2dConfig;
  /** ...and the feedback to back ends. */
  feedback: FeedbackConfig;
  /** `postgres://…`: registry, twins, C2D and sessions in PostgreSQL (scale-out); SQLite in the data dir otherwise. */
  store?: string;
  /** `nats://…`: telemetry partitions in NATS JetStream (scale-out); SQLite in the data dir otherwise. */
  log?: string;
  /** `nats://…`: the bus between nodes; follows `log` unless given; in-process otherwise. */
  bus?: string;
  /** How long a node that stops renewing its presence lease (it died) still counts as holding its connections. */
  presenceLeaseMs: number;
}

export interface C2dConfig {
  maxQueueDepth: number;
  maxMessageBytes: number;
  defaultTtlMs: number;
  maxDeliveryCount: number;
  lockMs: number;
}

export interface FeedbackConfig {
  flushIntervalMs: number;
}

export const DEFAULTS = {
  dataDir: '.lazuli',
  name: 'lazuli',
  hostname: 'localhost',
  mqttPort: 8883,
  amqpPort: 5671,
  httpsPort: 443,
  partitions: 4,
  logLevel: 'info' as LogLevel,
  maxMessageBytes: 256 * 1024,
  retentionHours: 24,
  retentionMbPerPartition: 1024,
  c2dMaxQueueDepth: 50,
  c2dMaxMessageBytes: 64 * 1024,
  c2dTtlSeconds: 3600,
  c2dMaxDeliveryCount: 10,
  c2dLockSeconds: 60,
  feedbackIntervalSeconds: 15,
  presenceLeaseSeconds: 30,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const START_FLAGS = {
  'data-dir': 'LAZULI_DATA_DIR',
  name: 'LAZULI_NAME',
  hostname: 'LAZULI_HOSTNAME',
  bind: 'LAZULI_BIND',
  'mqtt-port': 'LAZULI_MQTT_PORT',
  'amqp-port': 'LAZULI_AMQP_PORT',
  'https-port': 'LAZULI_HTTPS_PORT',
  partitions: 'LAZULI_PARTITIONS',
  'log-level': 'LAZULI_LOG_LEVEL',
  'tls-cert': 'LAZULI_TLS_CERT',
  'tls-key': 'LAZULI_TLS_KEY',
  'max-message-bytes': 'LAZULI_MAX_MESSAGE_BYTES',
  'retention-hours': 'LAZULI_RETENTION_HOURS',
  'retention-mb-per-partition': 'LAZULI_RETENTION_MB_PER_PARTITION',
  'c2d-max-queue-depth': 'LAZULI_C2D_MAX_QUEUE_DEPTH',
  'c2d-max-message-bytes': 'LAZULI_C2D_MAX_MESSAGE_BYTES',
  'c2d-ttl-seconds': 'LAZULI_C2D_TTL_SECONDS',
  'c2d-max-delivery-count': 'LAZULI_C2D_MAX_DELIVERY_COUNT',
  'c2d-lock-seconds': 'LAZULI_C2D_LOCK_SECONDS',
  'feedback-interval-seconds': 'LAZULI_FEEDBACK_INTERVAL_SECONDS',
  store: 'LAZULI_STORE',
  log: 'LAZULI_LOG',
  bus: 'LAZULI_BUS',
  'presence-lease-seconds': 'LAZULI_PRESENCE_LEASE_SECONDS',
} as const;

export type StartFlag = keyof typeof START_FLAGS;

/** Flags win over the environment, which wins over the defaults. */
export function resolveStartConfig(flags: Partial<Record<StartFlag, string>>, env: NodeJS.ProcessEnv): StartConfig {
  const get = (flag: StartFlag): string | undefined => flags[flag] ?? nonEmpty(env[START_FLAGS[flag]]);
  const config: StartConfig = {
    dataDir: get('data-dir') ?? DEFAULTS.dataDir,
    hostname: (get('hostname') ?? DEFAULTS.hostname).toLowerCase(),
    mqttPort: port(get('mqtt-port'), DEFAULTS.mqttPort, 'mqtt-port'),
    amqpPort: port(get('amqp-port'), DEFAULTS.amqpPort, 'amqp-port'),
    httpsPort: port(get('https-port'), DEFAULTS.httpsPort, 'https-port'),
    logLevel: logLevel(get('log-level')),
    maxMessageBytes: optionalInteger(get('max-message-bytes'), DEFAULTS.maxMessageBytes, 1024, 64 * 1024 * 1024, 'max-message-bytes'),
    retentionHours: optionalInteger(get('retention-hours'), DEFAULTS.retentionHours, 1, 24 * 365, 'retention-hours'),
    retentionMbPerPartition: optionalInteger(get('retention-mb-per-partition'), DEFAULTS.retentionMbPerPartition, 1, 1024 * 1024, 'retention-mb-per-partition'),
    c2d: {
      // Azure stops at 50 messages, 64 KiB and a fixed 60 s lock; a self-hosted hub can afford far more.
      maxQueueDepth: optionalInteger(get('c2d-max-queue-depth'), DEFAULTS.c2dMaxQueueDepth, 1, 10_000_000, 'c2d-max-queue-depth'),
      maxMessageBytes: optionalInteger(get('c2d-max-message-bytes'), DEFAULTS.c2dMaxMessageBytes, 1024, 16 * 1024 * 1024, 'c2d-max-message-bytes'),
      defaultTtlMs: optionalInteger(get('c2d-ttl-seconds'), DEFAULTS.c2dTtlSeconds, 1, 365 * 86_400, 'c2d-ttl-seconds') * 1000,
      maxDeliveryCount: optionalInteger(get('c2d-max-delivery-count'), DEFAULTS.c2dMaxDeliveryCount, 1, 100, 'c2d-max-delivery-count'),
      lockMs: optionalInteger(get('c2d-lock-seconds'), DEFAULTS.c2dLockSeconds, 1, 3600, 'c2d-lock-seconds') * 1000,
    },
    feedback: {
      flushIntervalMs: optionalInteger(get('feedback-interval-seconds'), DEFAULTS.feedbackIntervalSeconds, 1, 3600, 'feedback-interval-seconds') * 1000,
    },
    presenceLeaseMs: optionalInteger(get('presence-lease-seconds'), DEFAULTS.presenceLeaseSeconds, 1, 3600, 'presence-lease-seconds') * 1000,
  };
  const name = get('name');
  if (name !== undefined) config.name = hubName(name);
  const bind = get('bind');
  if (bind !== undefined) config.bind = bind;
  const partitions = get('partitions');
  if (partitions !== undefined) config.partitions = integer(partitions, 2, 128, 'partitions');
  const cert = get('tls-cert');
  const key = get('tls-key');
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
  if (cert !== undefined && key !== undefined) Object.assign(config, { tlsCert: cert, tlsKey: key });
  const store = get('store');
  if (store !== undefined) config.store = backendUrl(store, ['postgres:', 'postgresql:'], 'store');
  const log = get('log');
  if (log !== undefined) config.log = backendUrl(log, ['nats:'], 'log');
  const bus = get('bus') ?? log;
  if (bus !== undefined) config.bus = backendUrl(bus, ['nats:'], 'bus');
  if (!isHostname(config.hostname)) throw new ConfigError(`--hostname "${config.hostname}" is not a DNS name or IP address`);
  return config;
}

function backendUrl(text: string, protocols: readonly string[], flag: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--${flag} must be a URL (${protocols[0]}//HOST:PORT...), not "${text}"`);
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(`--${flag} must be a ${protocols[0]}// URL, not "${text}"`);
  return text;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function port(text: string | undefined, fallback: number, flag: string): number {
  return optionalInteger(text, fallback, 0, 65535, flag);
}

function optionalInteger(text: string | undefined, fallback: number, min: number, max: number, flag: string): number {
  return text === undefined ? fallback : integer(text, min, max, flag);
}

function integer(text: string, min: number, max: number, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new ConfigError(`--${flag} must be a whole number from ${min} to ${max}, not "${text}"`);
  return n;
}

function logLevel(text: string | undefined): LogLevel {
  if (text === undefined) return DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(text)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return text as LogLevel;
}

/** Azure hub names: 3 to 50 letters, digits and hyphens. */
export function hubName(text: string): string {
  if (!/^[A-Za-z0-9-]{3,50}$/.test(text)) throw new ConfigError(`--name "${text}" must be 3 to 50 letters, digits or hyphens`);
  return text;
}

function isHostname(text: string): boolean {
  return isIP(text) !== 0 || /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(text);
}
