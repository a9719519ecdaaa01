import { MemoryMqttSessionStore } from '../../src/storage/memory/memory-mqtt-session-store.js';
// Support for the MQTT protocol tests that need the adapter's insides or a hub with stand-in parts: the adapter on
// an in-memory hub, clients on in-process stream pairs (no sockets). Not a test file itself.
import { MemoryConsumerGroupStore } from '../../src/storage/memory/memory-consumer-group-store.js';
import { Duplex } from 'node:stream';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import pino from 'pino';
import { createHub, type Hub } from '../../src/core/hub.js';
import type { MqttSessionStore } from '../../src/ports/mqtt-session-store.js';
import type { TelemetryLog } from '../../src/ports/telemetry-log.js';
import { createMqttAdapter, type MqttAdapter, type MqttAdapterOptions } from '../../src/protocols/mqtt/mqtt-adapter.js';
import { MemoryTelemetryLog } from '../../src/storage/memory/memory-telemetry-log.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteC2dStore } from '../../src/storage/sqlite/sqlite-c2d-store.js';
import { SqliteTwinStore } from '../../src/storage/sqlite/sqlite-twin-store.js';
import { LocalBus } from '../../src/fabric/local/local-bus.js';
import { SqliteRegistryStore } from '../../src/storage/sqlite/sqlite-registry-store.js';
import { connectPacket, MqttTestClient, type TestIdentity } from './mqtt-test-client.js';

export const HARNESS_HOST = 'hub.test';

/** Two connected in-process streams: what one writes, the other reads; ending or destroying one ends the other. */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex) =>
    new Duplex({
      allowHalfOpen: false,
      read() {},
      write(chunk: Buffer, _encoding, done) {
        peer().push(chunk);
        done();
      },
      final(done) {
        peer().push(null);
        done();
      },
      destroy(err, done) {
        peer().destroy();
        done(err);
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return [a, b];
}

export interface AdapterHarness {
  hub: Hub;
  adapter: MqttAdapter;
  /** A client on a fresh stream pair, after its CONNECT was answered. */
  connect(id: TestIdentity, overrides?: Partial<IConnectPacket>): Promise<{ client: MqttTestClient; connack: IConnackPacket }>;
  close(): Promise<void>;
}

export async function startAdapterHarness(
  options: { telemetryLog?: TelemetryLog; sessions?: MqttSessionStore; adapter?: Partial<MqttAdapterOptions> } = {},
): Promise<AdapterHarness> {
  const db = openSqliteDatabase(':memory:');
  const registryStore = new SqliteRegistryStore(db);
  const telemetryLog = options.telemetryLog ?? new MemoryTelemetryLog(4);
  const hub = createHub({
    info: { name: 'test', hostname: HARNESS_HOST },
    policies: [],
    registryStore,
    telemetryLog,
    consumerGroupStore: new MemoryConsumerGroupStore(),
    c2dStore: new SqliteC2dStore(db),
    twinStore: new SqliteTwinStore(db),
    bus: new LocalBus(),
  });
  const adapter = createMqttAdapter({
    hub,
    logger: pino({ level: 'silent' }),
    sessions: options.sessions ?? new MemoryMqttSessionStore(),
    ...options.adapter,
  });
  return {
    hub,
    adapter,
    async connect(id, overrides = {}) {
      const [server, clientSide] = duplexPair();
      adapter.handle(server);
      const client = new MqttTestClient(clientSide);
      client.send(connectPacket(HARNESS_HOST, id, overrides));
      return { client, connack: await client.expect('connack') };
    },
    async close() {
      await adapter.close();
      await registryStore.close();
    },
  };
}
