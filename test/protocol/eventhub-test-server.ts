import type { Duplex } from 'node:stream';
// A minimal AMQP server for the Event Hub-compatible endpoint's tests and bench, standing in for the AMQP adapter:
// TLS on an ephemeral port, SASL ANONYMOUS, a `$cbs` node that grants every put-token, and links routed to an
// EventHubEndpoint on a hub built with createHub over a MemoryTelemetryLog.
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import rhea, { type Connection, type EventContext, type Message, type Sender } from 'rhea';
import { createHub, type Hub } from '../../src/core/hub.js';
import { ConsumerGroupService } from '../../src/core/eventhub/consumer-group-service.js';
import { EventHubEndpoint, type EventHubEndpointOptions } from '../../src/protocols/eventhub/event-hub-endpoint.js';
import { MemoryConsumerGroupStore } from '../../src/storage/memory/memory-consumer-group-store.js';
import { MemoryTelemetryLog } from '../../src/storage/memory/memory-telemetry-log.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteC2dStore } from '../../src/storage/sqlite/sqlite-c2d-store.js';
import { SqliteTwinStore } from '../../src/storage/sqlite/sqlite-twin-store.js';
import { LocalBus } from '../../src/fabric/local/local-bus.js';
import { SqliteRegistryStore } from '../../src/storage/sqlite/sqlite-registry-store.js';
import { coalesceWrites } from '../../src/protocols/coalesced-writes.js';

export interface EventHubTestServerOptions {
  cert: string;
  key: string;
  hubName?: string;
  partitions?: number;
  logger?: Logger;
  endpoint?: Partial<Omit<EventHubEndpointOptions, 'hub' | 'logger' | 'consumerGroups'>>;
}

export interface EventHubTestServer {
  port: number;
  hub: Hub;
  log: MemoryTelemetryLog;
  consumerGroups: ConsumerGroupService;
  endpoint: EventHubEndpoint;
  /** What @azure/event-hubs takes; the key is never checked. */
  connectionString(entity?: string): string;
  close(): Promise<void>;
}

/** Reads the suite CA's server certificate, issued for localhost (scripts/test.js creates it). */
export async function suiteTlsMaterial(): Promise<{ cert: string; key: string }> {
  const dir = process.env.LAZULI_TEST_CA_DIR;
  if (!dir) throw new Error('LAZULI_TEST_CA_DIR is not set: run the tests with scripts/test.js');
  const { readFile } = await import('node:fs/promises');
  return { cert: await readFile(join(dir, 'server.pem'), 'utf8'), key: await readFile(join(dir, 'server-key.pem'), 'utf8') };
}

export async function startEventHubTestServer(options: EventHubTestServerOptions): Promise<EventHubTestServer> {
  const hubName = options.hubName ?? 'eh-hub';
  const logger = options.logger ?? pino({ level: 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'lazuli-eh-'));
  const db = openSqliteDatabase(join(dir, 'hub.db'));
  const registryStore = new SqliteRegistryStore(db);
  const log = new MemoryTelemetryLog(options.partitions ?? 4);
  const consumerGroupStore = new MemoryConsumerGroupStore();
  const hub = createHub({
    info: { name: hubName, hostname: 'localhost' },
    policies: [],
    registryStore,
    telemetryLog: log,
    consumerGroupStore,
    c2dStore: new SqliteC2dStore(db),
    twinStore: new SqliteTwinStore(db),
    bus: new LocalBus(),
  });
  const consumerGroups = new ConsumerGroupService(consumerGroupStore);
  const endpoint = new EventHubEndpoint({ hub, logger, consumerGroups, ...options.endpoint });

  const container = rhea.create_container({ id: 'lazuli-eventhub-test' });
  container.sasl_server_mechanisms.enable_anonymous();
  const connections = new Set<Connection>();
  container.on('connection_open', (ctx: EventContext) => connections.add(ctx.connection));
  container.on('disconnected', (ctx: EventContext) => connections.delete(ctx.connection));
  container.on('error', () => {});
  container.on('receiver_open', (ctx: EventContext) => {
    const link = ctx.receiver!;
    link.set_target(link.target);
  });
  container.on('sender_open', (ctx: EventContext) => {
    const link = ctx.sender!;
    const address = link.source?.address ?? '';
    if (address === '$cbs') return link.set_source(link.source);
    const parsed = endpoint.parseAddress(address);
    if (parsed?.kind === 'management') return link.set_source(link.source);
    if (parsed?.kind === 'partition') return endpoint.openPartitionSender(link, parsed);
    link.close({ condition: 'amqp:not-found', description: `no node "${address}"` });
  });
  container.on('message', (ctx: EventContext) => {
    const request = ctx.message!;
    const address = ctx.receiver!.target?.address ?? '';
    const replyTo = (reply: Message) => {
      const sender = ctx.connection.find_sender((s: Sender) => s.name === request.reply_to || s.target?.address === request.reply_to);
      sender?.send(reply);
    };
    ctx.delivery!.accept();
    if (address === '$cbs') {
      replyTo({ body: undefined, correlation_id: request.message_id, application_properties: { 'status-code': rhea.types.wrap_int(200), 'status-description': 'OK' } });
    } else if (endpoint.parseAddress(address)?.kind === 'management') {
      void endpoint.handleManagementRequest(request).then(replyTo);
    }
  });

  const server = container.listen({ port: 0, host: 'localhost', transport: 'tls', cert: options.cert, key: options.key } as never) as unknown as Server;
  // As the hub's AMQP adapter does for every connection, before rhea's own handler sees the socket.
  server.prependListener('secureConnection', (socket: Duplex) => coalesceWrites(socket));
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;

  return {
    port,
    hub,
    log,
    consumerGroups,
    endpoint,
    connectionString: (entity = hubName) =>
      `Endpoint=sb://localhost:${port}/;SharedAccessKeyName=iothubowner;SharedAccessKey=bm90LWNoZWNrZWQ=;EntityPath=${entity}`,
    async close() {
      endpoint.close();
      for (const c of connections) c.close();
      server.close();
      await log.close();
      await registryStore.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
