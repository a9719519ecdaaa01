// Sessions as the adapter holds them: the per-connection subscriptions later deliveries route by, and the store.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ISubscription } from 'mqtt-packet';
import { MemoryMqttSessionStore } from '../../src/storage/memory/memory-mqtt-session-store.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteMqttSessionStore } from '../../src/storage/sqlite/sqlite-mqtt-session-store.js';
import { startAdapterHarness, type AdapterHarness } from './mqtt-adapter-harness.js';
import { createDevice, type MqttTestClient, type TestIdentity } from './mqtt-test-client.js';

async function subscribe(client: MqttTestClient, subscriptions: ISubscription[]): Promise<void> {
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions });
  await client.expect('suback');
}

async function reconnect(harness: AdapterHarness, id: TestIdentity, clean: boolean, previous?: MqttTestClient) {
  if (previous) {
    previous.send({ cmd: 'disconnect' });
    await previous.expectClosed();
  }
  return harness.connect(id, { clean });
}

const TWIN = { topic: '$iothub/twin/res/#', qos: 0 } as const;
const METHODS = { topic: '$iothub/methods/POST/#', qos: 0 } as const;

describe('MQTT sessions in the adapter', () => {
  test("a resumed session restores the connection's subscriptions without a SUBSCRIBE (token-renewal reconnect)", async () => {
    const sessions = new MemoryMqttSessionStore();
    const harness = await startAdapterHarness({ sessions });
    const id = await createDevice(harness.hub, 'renewer');
    const first = await harness.connect(id, { clean: false });
    await subscribe(first.client, [TWIN, METHODS, { topic: 'devices/renewer/messages/devicebound/#', qos: 1 }]);
    assert.deepEqual(harness.adapter.connectionOf('renewer')?.session?.kinds(), ['twinResponses', 'methods', 'c2d']);

    const second = await reconnect(harness, id, false, first.client);
    assert.equal(second.connack.sessionPresent, true);
    const session = harness.adapter.connectionOf('renewer')!.session!;
    assert.deepEqual(session.kinds(), ['twinResponses', 'methods', 'c2d']);
    assert.deepEqual(session.get('c2d'), { topic: 'devices/renewer/messages/devicebound/#', qos: 1 });
    await harness.close();
  });

  test('UNSUBSCRIBE is kept too', async () => {
    const harness = await startAdapterHarness({ sessions: new MemoryMqttSessionStore() });
    const id = await createDevice(harness.hub, 'unsubscriber');
    const first = await harness.connect(id, { clean: false });
    await subscribe(first.client, [TWIN, METHODS]);
    first.client.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [TWIN.topic] });
    await first.client.expect('unsuback');
    await reconnect(harness, id, false, first.client);
    assert.deepEqual(harness.adapter.connectionOf('unsubscriber')?.session?.kinds(), ['methods']);
    await harness.close();
  });

  test('CleanSession=1 starts empty, removes the stored session and stores nothing of its own', async () => {
    const sessions = new MemoryMqttSessionStore();
    const harness = await startAdapterHarness({ sessions });
    const id = await createDevice(harness.hub, 'cleaner');
    const first = await harness.connect(id, { clean: false });
    await subscribe(first.client, [TWIN]);
    assert.ok(await sessions.load('cleaner'));

    const clean = await reconnect(harness, id, true, first.client);
    assert.equal(clean.connack.sessionPresent, false);
    assert.deepEqual(harness.adapter.connectionOf('cleaner')?.session?.kinds(), []);
    assert.equal(await sessions.load('cleaner'), undefined);
    await subscribe(clean.client, [METHODS]);
    assert.deepEqual(harness.adapter.connectionOf('cleaner')?.session?.kinds(), ['methods']);
    assert.equal(await sessions.load('cleaner'), undefined);
    await harness.close();
  });

  test('a stored subscription this identity may not have is not restored', async () => {
    const sessions = new MemoryMqttSessionStore();
    await sessions.save('picky', [TWIN, { topic: 'devices/someone-else/messages/devicebound/#', qos: 1 }], 0);
    const harness = await startAdapterHarness({ sessions });
    const id = await createDevice(harness.hub, 'picky');
    const { connack } = await harness.connect(id, { clean: false });
    assert.equal(connack.sessionPresent, true);
    assert.deepEqual(harness.adapter.connectionOf('picky')?.session?.kinds(), ['twinResponses']);
    await harness.close();
  });

  test('with the SQLite store, sessions survive a restart of the adapter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lazuli-mqtt-'));
    const file = join(dir, 'hub.db');
    try {
      const db1 = openSqliteDatabase(file);
      const first = await startAdapterHarness({ sessions: new SqliteMqttSessionStore(db1) });
      const id = await createDevice(first.hub, 'durable');
      const c = await first.connect(id, { clean: false });
      await subscribe(c.client, [METHODS]);
      await first.close();
      db1.close();

      const db2 = openSqliteDatabase(file);
      const second = await startAdapterHarness({ sessions: new SqliteMqttSessionStore(db2) });
      const again = await createDevice(second.hub, 'durable');
      const { connack } = await second.connect(again, { clean: false });
      assert.equal(connack.sessionPresent, true);
      assert.deepEqual(second.adapter.connectionOf('durable')?.session?.kinds(), ['methods']);
      await second.close();
      db2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the adapter forgets a connection once it closes', async () => {
    const harness = await startAdapterHarness();
    const id = await createDevice(harness.hub, 'leaver');
    const { client } = await harness.connect(id);
    assert.ok(harness.adapter.connectionOf('leaver'));
    client.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(harness.adapter.connectionOf('leaver'), undefined);
    await harness.close();
  });
});
