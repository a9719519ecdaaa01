import { connect as connectNats, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { C2dStore } from '../ports/c2d-store.js';
import type { ConsumerGroupStore } from '../ports/consumer-group-store.js';
import type { MessageBus } from '../ports/message-bus.js';
import type { MqttSessionStore } from '../ports/mqtt-session-store.js';
import type { RegistryStore } from '../ports/registry-store.js';
import type { RetentionPolicy, TelemetryLog } from '../ports/telemetry-log.js';
import type { TwinStore } from '../ports/twin-store.js';
import type { TwinQueryIndex } from '../ports/twin-query-index.js';
import type { PresenceStore } from '../ports/presence-store.js';
import { LocalBus } from '../fabric/local/local-bus.js';
import { NatsBus } from '../fabric/nats/nats-bus.js';
import { JetStreamTelemetryLog } from '../storage/nats/jetstream-telemetry-log.js';
import { openPostgresDatabase } from '../storage/postgres/database.js';
import { PostgresC2dStore } from '../storage/postgres/postgres-c2d-store.js';
import { PostgresConsumerGroupStore } from '../storage/postgres/postgres-consumer-group-store.js';
import { PostgresPresenceStore } from '../storage/postgres/postgres-presence-store.js';
import { PostgresMqttSessionStore } from '../storage/postgres/postgres-mqtt-session-store.js';
import { PostgresRegistryStore } from '../storage/postgres/postgres-registry-store.js';
import { PostgresTwinQueryIndex } from '../storage/postgres/postgres-twin-query-index.js';
import { PostgresTwinStore } from '../storage/postgres/postgres-twin-store.js';
import { openSqliteDatabase } from '../storage/sqlite/database.js';
import { SqliteC2dStore } from '../storage/sqlite/sqlite-c2d-store.js';
import { SqliteConsumerGroupStore } from '../storage/sqlite/sqlite-consumer-group-store.js';
import { SqliteMqttSessionStore } from '../storage/sqlite/sqlite-mqtt-session-store.js';
import { SqliteRegistryStore } from '../storage/sqlite/sqlite-registry-store.js';
import { SqliteTelemetryLog } from '../storage/sqlite/sqlite-telemetry-log.js';
import { SqliteTwinStore } from '../storage/sqlite/sqlite-twin-store.js';
import { telemetryMigrations } from '../storage/sqlite/telemetry-migrations.js';
import { databasePath, telemetryDatabasePath } from './data-dir.js';

/** Where state, telemetry and the bus live: the embedded defaults, or PostgreSQL and NATS for a cluster. */
export interface BackendChoice {
  dataDir: string;
  hubName: string;
  partitions: number;
  retention: RetentionPolicy;
  /** `postgres://…`: state in PostgreSQL; otherwise SQLite in the data dir. */
  store?: string;
  /** `nats://…`: telemetry in NATS JetStream; otherwise SQLite in the data dir. */
  log?: string;
  /** `nats://…`: the bus between nodes; otherwise in-process (one node). */
  bus?: string;
}

export interface Backends {
  registryStore: RegistryStore;
  consumerGroupStore: ConsumerGroupStore;
  mqttSessions: MqttSessionStore;
  c2dStore: C2dStore;
  twinStore: TwinStore;
  /** PostgreSQL only: twin queries compiled to SQL. */
  twinQueryIndex?: TwinQueryIndex;
  /** Cluster-wide presence; absent on the embedded backends, where one process holds every connection. */
  presenceStore?: PresenceStore;
  telemetryLog: TelemetryLog;
  bus: MessageBus;
  /** Closes what was opened, in an order that lets pending writes finish. */
  close(): Promise<void>;
}

type Closer = () => Promise<void>;

export async function openBackends(choice: BackendChoice, logger: Logger): Promise<Backends> {
  const closers: Closer[] = [];
  try {
    const state = await openState(choice, closers, logger);
    const telemetryLog = await openLog(choice, closers);
    const bus = await openBus(choice, closers, logger);
    return {
      ...state,
      telemetryLog,
      bus,
      async close() {
        for (const close of closers.splice(0).reverse()) await close();
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

async function openState(choice: BackendChoice, closers: Closer[], logger: Logger) {
  if (choice.store !== undefined) {
    const { connectionString, schema } = splitSchema(choice.store);
    const db = await openPostgresDatabase({
      connectionString,
      ...(schema === undefined ? {} : { schema }),
      onIdleError: (err) => logger.warn({ err }, 'a pooled PostgreSQL connection failed'),
    });
    closers.push(() => db.close());
    const stores = {
      registryStore: new PostgresRegistryStore(db),
      consumerGroupStore: new PostgresConsumerGroupStore(db),
      mqttSessions: new PostgresMqttSessionStore(db),
      c2dStore: new PostgresC2dStore(db),
      twinStore: new PostgresTwinStore(db),
      twinQueryIndex: new PostgresTwinQueryIndex(db),
      presenceStore: new PostgresPresenceStore(db),
    };
    closers.push(async () => {
      await stores.c2dStore.close();
      await stores.twinStore.close();
    });
    return stores;
  }
  const db = openSqliteDatabase(databasePath(choice.dataDir));
  // C2D and twins write only through group commits, which sync the WAL off the event loop before they acknowledge:
  // a connection of their own that does not sync inside each commit. The others write directly, synced.
  const groupCommitted = openSqliteDatabase(databasePath(choice.dataDir), { durability: 'wal-sync' });
  const stores = {
    registryStore: new SqliteRegistryStore(db),
    consumerGroupStore: new SqliteConsumerGroupStore(db),
    mqttSessions: new SqliteMqttSessionStore(db),
    c2dStore: new SqliteC2dStore(groupCommitted),
    twinStore: new SqliteTwinStore(groupCommitted),
  };
  // The registry store owns the first connection: it closes last, after the stores that commit what is queued.
  closers.push(() => stores.registryStore.close());
  closers.push(async () => {
    groupCommitted.close();
  });
  closers.push(async () => {
    await stores.c2dStore.close();
    await stores.twinStore.close();
  });
  return stores;
}

async function openLog(choice: BackendChoice, closers: Closer[]): Promise<TelemetryLog> {
  const options = { partitionCount: choice.partitions, retention: choice.retention };
  if (choice.log !== undefined) {
    const nc = await connectNatsServer(choice.log, `lazuli ${choice.hubName} telemetry`);
    closers.push(() => nc.drain());
    const log = await JetStreamTelemetryLog.open(nc, { ...options, prefix: `lazuli-${choice.hubName}` });
    closers.push(() => log.close());
    return log;
  }
  // Appends are acknowledged only through the log's group commit, which syncs the WAL off the event loop.
  const log = new SqliteTelemetryLog(openSqliteDatabase(telemetryDatabasePath(choice.dataDir), { migrations: telemetryMigrations, durability: 'wal-sync' }), {
    partitionCount: options.partitionCount,
    retention: options.retention,
  });
  closers.push(() => log.close());
  return log;
}

async function openBus(choice: BackendChoice, closers: Closer[], logger: Logger): Promise<MessageBus> {
  if (choice.bus === undefined) return new LocalBus();
  const bus = await NatsBus.connect({
    servers: choice.bus,
    prefix: `lazuli.${choice.hubName}`,
    name: `lazuli ${choice.hubName} bus`,
    onError: (err: unknown) => logger.warn({ err }, 'NATS bus error'),
  });
  closers.push(() => bus.close());
  return bus;
}

/** `?schema=NAME` on the store URL picks the schema (several hubs on one database); pg does not know the parameter. */
function splitSchema(url: string): { connectionString: string; schema?: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  return schema === undefined ? { connectionString: parsed.toString() } : { connectionString: parsed.toString(), schema };
}

function connectNatsServer(url: string, name: string): Promise<NatsConnection> {
  return connectNats({ servers: url, name, noAsyncTraces: true, maxReconnectAttempts: -1 });
}
