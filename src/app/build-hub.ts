import type { Logger } from 'pino';
import type { TelemetryLog } from '../ports/telemetry-log.js';
import { createHub, type Hub } from '../core/hub.js';
import { createAmqpAdapter } from '../protocols/amqp/amqp-adapter.js';
import { createHttpAdapter } from '../protocols/http/http-adapter.js';
import { createMqttAdapter } from '../protocols/mqtt/mqtt-adapter.js';
import { startListeners } from '../protocols/listener/tls-listener.js';
import { openBackends } from './backends.js';
import { ConfigError, DEFAULTS, type StartConfig } from './config.js';
import { ensureDataDir, loadOrCreatePolicies, readSettings, writeSettings, type HubSettings } from './data-dir.js';
import { ensureCertificates } from './tls/certificates.js';

export interface RunningHub {
  hub: Hub;
  settings: HubSettings;
  /** The CA clients must trust. */
  caPem: string;
  /** For tests and tools in this process: the log behind the telemetry service. */
  telemetryLog: TelemetryLog;
  stop(): Promise<void>;
}

/**
 * The composition root: the one place that knows every adapter. Opens the data dir, storage and services, then
 * starts the listeners; the hub is ready once this resolves.
 */
export async function buildHub(config: StartConfig, logger: Logger): Promise<RunningHub> {
  ensureDataDir(config.dataDir);
  const previous = readSettings(config.dataDir);
  const name = fixedAtCreation('name', config.name, previous?.name, DEFAULTS.name);
  const partitions = fixedAtCreation('partitions', config.partitions, previous?.partitions, DEFAULTS.partitions);
  const policies = loadOrCreatePolicies(config.dataDir);
  const tls = await ensureCertificates(config.dataDir, {
    hostname: config.hostname,
    ...(config.tlsCert && config.tlsKey ? { certFile: config.tlsCert, keyFile: config.tlsKey } : {}),
  });

  const backends = await openBackends(
    {
      dataDir: config.dataDir,
      hubName: name,
      partitions,
      retention: { maxAgeMs: config.retentionHours * 3_600_000, maxBytesPerPartition: config.retentionMbPerPartition * 1024 * 1024 },
      ...(config.store === undefined ? {} : { store: config.store }),
      ...(config.log === undefined ? {} : { log: config.log }),
      ...(config.bus === undefined ? {} : { bus: config.bus }),
    },
    logger,
  );
  const { registryStore, consumerGroupStore, c2dStore, twinStore, telemetryLog, bus } = backends;
  const retention = startRetention(telemetryLog, logger);
  const createdAt = previous?.createdAt ?? new Date().toISOString();
  const hub = createHub({
    info: { name, hostname: config.hostname, createdAt },
    policies,
    registryStore,
    telemetryLog,
    consumerGroupStore,
    c2dStore,
    twinStore,
    ...(backends.twinQueryIndex === undefined ? {} : { twinQueryIndex: backends.twinQueryIndex }),
    bus,
    ...(backends.presenceStore === undefined ? {} : { presenceStore: backends.presenceStore }),
    presenceLeaseMs: config.presenceLeaseMs,
    maxMessageBytes: config.maxMessageBytes,
    c2d: config.c2d,
    feedback: config.feedback,
    backgroundFailed: (err, what) => logger.error({ err }, `${what} failed`),
  });
  await hub.start();
  const mqtt = createMqttAdapter({ hub, logger, sessions: backends.mqttSessions });
  const amqp = createAmqpAdapter({ hub, logger });
  const http = await createHttpAdapter({
    hub,
    logger,
    webSockets: { mqtt: (stream) => mqtt.handle(stream), amqp: (ws) => amqp.handleWebSocket(ws) },
  });

  let listeners;
  try {
    listeners = await startListeners({
      ports: [config.httpsPort, config.mqttPort, config.amqpPort],
      ...(config.bind === undefined ? {} : { bind: config.bind }),
      cert: tls.certPem,
      key: tls.keyPem,
      handlers: {
        http: (socket) => http.handle(socket),
        mqtt: (socket) => mqtt.handle(socket),
        amqp: (socket) => amqp.handle(socket),
      },
      logger,
    });
  } catch (err) {
    await Promise.all([http.close(), mqtt.close(), amqp.close()]);
    clearInterval(retention);
    await hub.stop();
    await backends.close();
    throw err;
  }

  const bound = (port: number) => listeners.boundPorts.get(port) ?? port;
  const settings: HubSettings = {
    name,
    hostname: config.hostname,
    ...(config.bind === undefined ? {} : { bind: config.bind }),
    ports: { mqtt: bound(config.mqttPort), amqp: bound(config.amqpPort), https: bound(config.httpsPort) },
    partitions,
    createdAt,
    startedAt: new Date().toISOString(),
    pid: process.pid,
  };
  writeSettings(config.dataDir, settings);

  return {
    hub,
    settings,
    caPem: tls.caPem,
    telemetryLog,
    async stop() {
      await listeners.close();
      await Promise.all([http.close(), mqtt.close(), amqp.close()]);
      clearInterval(retention);
      await hub.stop();
      // Commits what closing connections gave back (locks released) before the databases close.
      await backends.close();
    },
  };
}

/** The hub name and partition count are fixed when a hub is created: a later start may repeat them, not change them. */
function fixedAtCreation<T>(flag: string, given: T | undefined, recorded: T | undefined, fallback: T): T {
  if (recorded !== undefined && given !== undefined && given !== recorded) {
    throw new ConfigError(`--${flag} is fixed when a hub is created: this data dir's hub has ${flag} ${String(recorded)}, not ${String(given)}`);
  }
  return given ?? recorded ?? fallback;
}

/** Retention runs once a minute (and at start): removing old events is cheap, and appends run between its steps. */
function startRetention(log: TelemetryLog, logger: Logger): NodeJS.Timeout {
  const enforce = () =>
    log.enforceRetention(Date.now()).then(
      (removed) => removed > 0 && logger.info({ removed }, 'telemetry retention removed old events'),
      (err: unknown) => logger.error({ err }, 'telemetry retention failed'),
    );
  void enforce();
  const timer = setInterval(enforce, 60_000);
  timer.unref();
  return timer;
}
