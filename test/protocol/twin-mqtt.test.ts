// Device twins over MQTT with a raw client: GET and reported PATCH on $iothub/twin/..., their answers on
// $iothub/twin/res/{status}/?$rid=..., desired-property notifications, and what the hub does with bad requests.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { desiredSubject } from '../../src/core/twins/twin-service.js';
import { startAdapterHarness, type AdapterHarness } from './mqtt-adapter-harness.js';
import { createDevice, createModule, type MqttTestClient } from './mqtt-test-client.js';

const RESPONSES = '$iothub/twin/res/#';
const DESIRED = '$iothub/twin/PATCH/properties/desired/#';
/** How long a test waits to be sure that nothing (more) arrives. */
const QUIET_MS = 150;

let nextMessageId = 1;

async function subscribe(client: MqttTestClient, ...topics: string[]): Promise<void> {
  const messageId = nextMessageId++;
  client.send({ cmd: 'subscribe', messageId, subscriptions: topics.map((topic) => ({ topic, qos: 0 as const })) });
  const suback = await client.expect('suback');
  assert.equal(suback.messageId, messageId);
  assert.deepEqual(suback.granted, topics.map(() => 0));
}

async function unsubscribe(client: MqttTestClient, topic: string): Promise<void> {
  const messageId = nextMessageId++;
  client.send({ cmd: 'unsubscribe', messageId, unsubscriptions: [topic] });
  assert.equal((await client.expect('unsuback')).messageId, messageId);
}

function publish(client: MqttTestClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 0, messageId?: number): void {
  client.send({ cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos, dup: false, retain: false, ...(qos === 1 ? { messageId: messageId! } : {}) } as IPublishPacket);
}

/** A twin GET as the Node SDK sends it: a single space as the body. */
function get(client: MqttTestClient, rid: string): void {
  publish(client, `$iothub/twin/GET/?$rid=${rid}`, ' ');
}

function patchReported(client: MqttTestClient, rid: string, body: unknown): void {
  publish(client, `$iothub/twin/PATCH/properties/reported/?$rid=${rid}`, typeof body === 'string' ? body : JSON.stringify(body));
}

async function response(client: MqttTestClient): Promise<{ topic: string; body: string; packet: IPublishPacket }> {
  const packet = await client.expect('publish');
  return { topic: packet.topic, body: packet.payload.toString(), packet };
}

async function assertNothingArrives(client: MqttTestClient): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  assert.deepEqual(client.unread, []);
}

async function assertStillServes(client: MqttTestClient): Promise<void> {
  client.send({ cmd: 'pingreq' });
  await client.expect('pingresp');
  assert.equal(client.isClosed, false);
}

async function withDevice(deviceId: string, run: (h: AdapterHarness, client: MqttTestClient) => Promise<void>): Promise<void> {
  const harness = await startAdapterHarness();
  try {
    const { client, connack } = await harness.connect(await createDevice(harness.hub, deviceId));
    assert.equal(connack.returnCode, 0);
    await run(harness, client);
  } finally {
    await harness.close();
  }
}

const FRESH = '{"desired":{"$version":1},"reported":{"$version":1}}';

describe('MQTT twin requests', () => {
  test('reported patches issued across event-loop turns, each while earlier ones are still being written, land in order', async () => {
    await withDevice('t-order-turns', async (h) => {
      const target = { deviceId: 't-order-turns' };
      const writes: Array<Promise<number>> = [];
      for (let i = 0; i < 60; i++) {
        writes.push(h.hub.twins.updateReported(target, { seq: i }));
        if (i % 3 === 2) await new Promise((resolve) => setImmediate(resolve));
      }
      const versions = await Promise.all(writes);
      assert.deepEqual(versions, Array.from({ length: 60 }, (_, i) => i + 2), 'each patch got the next version, in the order issued');
      assert.equal((await h.hub.twins.get(target)).properties.reported.seq, 59);
    });
  });

  test('reported patches sent back to back are applied in the order sent, one version each', async () => {
    await withDevice('t-order', async (h, client) => {
      await subscribe(client, RESPONSES);
      for (let i = 0; i < 20; i++) patchReported(client, `r${i}`, { seq: i, [`k${i % 3}`]: i });
      const answers: string[] = [];
      for (let i = 0; i < 20; i++) answers.push((await response(client)).topic);
      assert.deepEqual(answers, Array.from({ length: 20 }, (_, i) => `$iothub/twin/res/204/?$rid=r${i}&$version=${i + 2}`));
      const twin = await h.hub.twins.get({ deviceId: 't-order' });
      assert.equal(twin.properties.reported.seq, 19, 'the last patch sent is the one that stays');
      assert.deepEqual([twin.properties.reported.k0, twin.properties.reported.k1, twin.properties.reported.k2], [18, 19, 17]);
      assert.equal(twin.properties.reported.$version, 21);
    });
  });

  test('without a $iothub/twin/res/# subscription a GET gets no answer', async () => {
    await withDevice('t-nosub', async (_h, client) => {
      get(client, '1');
      await assertNothingArrives(client);
      await assertStillServes(client);
    });
  });

  test('GET answers res/200 with the rid echoed and exactly {"desired":{"$version":1},"reported":{"$version":1}}', async () => {
    await withDevice('t-get', async (_h, client) => {
      await subscribe(client, RESPONSES);
      const uuid = randomUUID();
      // Opaque ids as SDKs and samples send them; 'a b&c' must be percent-encoded to fit in the query at all.
      for (const rid of [uuid, '1', 'get_twin', 'a%20b%26c', 'A-._~']) {
        get(client, rid);
        const { topic, body, packet } = await response(client);
        assert.equal(topic, `$iothub/twin/res/200/?$rid=${rid}`);
        assert.equal(body, FRESH);
        assert.deepEqual([packet.qos, packet.retain, packet.dup], [0, false, false]);
      }
    });
  });

  test('the rid comes back exactly as sent, even when not in canonical percent-encoding', async () => {
    await withDevice('t-rid', async (_h, client) => {
      await subscribe(client, RESPONSES);
      for (const rid of ['x%2fy', '%41', 'a b', 'a%2Bb', 'plain;ok', 'q=1']) {
        get(client, rid);
        assert.equal((await response(client)).topic, `$iothub/twin/res/200/?$rid=${rid}`, rid);
      }
    });
  });

  test('PATCH reported: res/204 with $version 2 and an empty body; the service view shows it; GET shows it', async () => {
    await withDevice('t-rep', async (harness, client) => {
      await subscribe(client, RESPONSES);
      patchReported(client, 'p1', { fw: '1.2.3', net: { rssi: -70, ssid: 'home' } });
      const first = await response(client);
      assert.equal(first.topic, '$iothub/twin/res/204/?$rid=p1&$version=2');
      assert.equal(first.packet.payload.length, 0);

      patchReported(client, 'p2', { net: { ssid: null }, battery: 80 });
      assert.equal((await response(client)).topic, '$iothub/twin/res/204/?$rid=p2&$version=3');

      const view = await harness.hub.twins.get({ deviceId: 't-rep' });
      const { $metadata, ...reported } = view.properties.reported;
      assert.deepEqual(reported, { fw: '1.2.3', net: { rssi: -70 }, battery: 80, $version: 3 });
      assert.equal(($metadata as { net: { ssid?: unknown } }).net.ssid, undefined);
      assert.equal(view.version, 3);
      assert.equal(view.properties.desired.$version, 1, 'desired is untouched');
      assert.equal(view.connectionState, 'Connected');

      get(client, 'g');
      const got = await response(client);
      assert.equal(got.topic, '$iothub/twin/res/200/?$rid=g');
      assert.equal(got.body, '{"desired":{"$version":1},"reported":{"fw":"1.2.3","net":{"rssi":-70},"battery":80,"$version":3}}');
    });
  });

  test('a bad PATCH is res/400 with {"errorCode":400004,...}, nothing is written, and the connection stays open', async () => {
    await withDevice('t-bad', async (harness, client) => {
      await subscribe(client, RESPONSES);
      const deep = (levels: number) => {
        let inner: Record<string, unknown> = { leaf: 1 };
        for (let i = levels; i >= 1; i--) inner = { [`l${i}`]: inner };
        return JSON.stringify(inner);
      };
      const bad: Array<[string, string]> = [
        ['invalid JSON', '{"fw": '],
        ['an empty body', ''],
        ['a bad key', '{"a.b": 1}'],
        ['a $ key', '{"nested": {"$x": 1}}'],
        ['an array', '[1, 2]'],
        ['null', 'null'],
        ['depth 11', deep(11)],
        ['a string > 4 KB', JSON.stringify({ s: 'x'.repeat(4097) })],
        ['reported > 32 KB', JSON.stringify(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'x'.repeat(4000)])))],
      ];
      for (const [i, [what, body]] of bad.entries()) {
        patchReported(client, `bad-${i}`, body);
        const { topic, body: answer } = await response(client);
        assert.equal(topic, `$iothub/twin/res/400/?$rid=bad-${i}`, what);
        const parsed = JSON.parse(answer) as { errorCode: unknown; message: unknown };
        assert.equal(parsed.errorCode, 400004, what);
        assert.equal(typeof parsed.message, 'string', what);
        assert.ok((parsed.message as string).length > 0, what);
      }
      await assertStillServes(client);
      assert.equal((await harness.hub.twins.get({ deviceId: 't-bad' })).version, 1, 'nothing was written');
      patchReported(client, 'good', deep(10));
      assert.equal((await response(client)).topic, '$iothub/twin/res/204/?$rid=good&$version=2');
    });
  });

  test('a QoS 1 twin request is PUBACKed with its packet id and answered', async () => {
    await withDevice('t-qos1', async (_h, client) => {
      await subscribe(client, RESPONSES);
      publish(client, '$iothub/twin/GET/?$rid=q1', ' ', 1, 41);
      publish(client, '$iothub/twin/PATCH/properties/reported/?$rid=q2', '{"a":1}', 1, 42);
      const packets: Packet[] = [];
      for (let i = 0; i < 4; i++) packets.push(await client.next());
      const pubacks = packets.filter((p) => p.cmd === 'puback').map((p) => (p as { messageId: number }).messageId);
      assert.deepEqual(pubacks, [41, 42]);
      const topics = packets.filter((p): p is IPublishPacket => p.cmd === 'publish').map((p) => p.topic);
      assert.deepEqual(topics, ['$iothub/twin/res/200/?$rid=q1', '$iothub/twin/res/204/?$rid=q2&$version=2']);
    });
  });

  test('a module connection has its own twin', async () => {
    const harness = await startAdapterHarness();
    try {
      const deviceIdentity = await createDevice(harness.hub, 't-host');
      const moduleIdentity = await createModule(harness.hub, 't-host', 'm1');
      await harness.hub.twins.patch({ deviceId: 't-host' }, { properties: { desired: { forDevice: true } } });
      await harness.hub.twins.patch({ deviceId: 't-host', moduleId: 'm1' }, { properties: { desired: { forModule: 1 } } });
      await harness.hub.twins.patch({ deviceId: 't-host', moduleId: 'm1' }, { properties: { desired: { forModule: 2 } } });

      const { client } = await harness.connect(moduleIdentity);
      await subscribe(client, RESPONSES);
      get(client, 'm');
      assert.equal((await response(client)).body, '{"desired":{"forModule":2,"$version":3},"reported":{"$version":1}}');
      patchReported(client, 'mr', { moduleSays: 'hi' });
      assert.equal((await response(client)).topic, '$iothub/twin/res/204/?$rid=mr&$version=2');

      const { client: deviceClient } = await harness.connect(deviceIdentity);
      await subscribe(deviceClient, RESPONSES);
      get(deviceClient, 'd');
      assert.equal((await response(deviceClient)).body, '{"desired":{"forDevice":true,"$version":2},"reported":{"$version":1}}');
      const moduleView = await harness.hub.twins.get({ deviceId: 't-host', moduleId: 'm1' });
      assert.equal(moduleView.properties.reported.moduleSays, 'hi');
      assert.equal((await harness.hub.twins.get({ deviceId: 't-host' })).properties.reported.moduleSays, undefined);
    } finally {
      await harness.close();
    }
  });

  for (const [what, topic] of [
    ['an unknown operation', '$iothub/twin/DELETE/?$rid=1'],
    ['a GET without $rid', '$iothub/twin/GET/'],
    ['a GET with an empty $rid', '$iothub/twin/GET/?$rid='],
    ['a device patching desired properties', '$iothub/twin/PATCH/properties/desired/?$rid=1'],
    ['a PUBLISH to the response topic', '$iothub/twin/res/200/?$rid=1'],
    ['a GET with a trailing path', '$iothub/twin/GET/more/?$rid=1'],
  ] as const) {
    test(`${what} closes the connection`, async () => {
      await withDevice('t-unknown', async (_h, client) => {
        await subscribe(client, RESPONSES);
        publish(client, topic, '{}');
        await client.expectClosed();
        assert.deepEqual(client.unread, [], 'no answer before closing');
      });
    });
  }
});

describe('MQTT desired-property notifications', () => {
  test('a service PATCH arrives on PATCH/properties/desired/?$version=N with the patch (nulls included) and $version', async () => {
    await withDevice('t-des', async (harness, client) => {
      await subscribe(client, DESIRED);
      await harness.hub.twins.patch({ deviceId: 't-des' }, { properties: { desired: { telemetrySendFrequency: '5m', route: { a: 1 } } } });
      const first = await response(client);
      assert.equal(first.topic, '$iothub/twin/PATCH/properties/desired/?$version=2');
      assert.equal(first.body, '{"telemetrySendFrequency":"5m","route":{"a":1},"$version":2}');
      assert.deepEqual([first.packet.qos, first.packet.retain], [0, false]);

      await harness.hub.twins.patch({ deviceId: 't-des' }, { properties: { desired: { route: null } } }, '*');
      const second = await response(client);
      assert.equal(second.topic, '$iothub/twin/PATCH/properties/desired/?$version=3');
      assert.deepEqual(JSON.parse(second.body), { route: null, $version: 3 });

      // Tags are not the device's business.
      await harness.hub.twins.patch({ deviceId: 't-des' }, { tags: { site: 'x' } });
      await assertNothingArrives(client);
    });
  });

  test('a service PUT tells the device the keys it dropped as null', async () => {
    await withDevice('t-put', async (harness, client) => {
      await harness.hub.twins.patch({ deviceId: 't-put' }, { properties: { desired: { a: 1, b: 2 } } });
      await subscribe(client, DESIRED);
      await harness.hub.twins.replace({ deviceId: 't-put' }, { properties: { desired: { b: 3, c: 4 } } });
      const note = await response(client);
      assert.equal(note.topic, '$iothub/twin/PATCH/properties/desired/?$version=3');
      assert.deepEqual(JSON.parse(note.body), { a: null, b: 3, c: 4, $version: 3 });
    });
  });

  test('no notification without the subscription, nor after unsubscribing; responses alone do not bring them', async () => {
    await withDevice('t-unsub', async (harness, client) => {
      await subscribe(client, RESPONSES);
      await harness.hub.twins.patch({ deviceId: 't-unsub' }, { properties: { desired: { a: 1 } } });
      await assertNothingArrives(client);

      await subscribe(client, DESIRED);
      await harness.hub.twins.patch({ deviceId: 't-unsub' }, { properties: { desired: { a: 2 } } });
      assert.equal((await response(client)).topic, '$iothub/twin/PATCH/properties/desired/?$version=3');

      await unsubscribe(client, DESIRED);
      await harness.hub.twins.patch({ deviceId: 't-unsub' }, { properties: { desired: { a: 3 } } });
      await assertNothingArrives(client);

      // Responses still flow, and the GET has what the device missed.
      get(client, 'after');
      assert.equal((await response(client)).body, '{"desired":{"a":3,"$version":4},"reported":{"$version":1}}');
    });
  });

  test('subscribing twice does not double the notifications', async () => {
    await withDevice('t-twice', async (harness, client) => {
      await subscribe(client, DESIRED);
      await subscribe(client, DESIRED);
      await harness.hub.twins.patch({ deviceId: 't-twice' }, { properties: { desired: { a: 1 } } });
      assert.equal((await response(client)).topic, '$iothub/twin/PATCH/properties/desired/?$version=2');
      await assertNothingArrives(client);
    });
  });

  test("another identity's desired changes do not arrive", async () => {
    const harness = await startAdapterHarness();
    try {
      const mine = await createDevice(harness.hub, 't-mine');
      await createDevice(harness.hub, 't-other');
      await createModule(harness.hub, 't-mine', 'mod');
      const { client } = await harness.connect(mine);
      await subscribe(client, DESIRED);
      await harness.hub.twins.patch({ deviceId: 't-other' }, { properties: { desired: { a: 1 } } });
      await harness.hub.twins.patch({ deviceId: 't-mine', moduleId: 'mod' }, { properties: { desired: { a: 1 } } });
      await assertNothingArrives(client);
    } finally {
      await harness.close();
    }
  });

  test('a persistent session keeps the desired subscription across a reconnect', async () => {
    const harness = await startAdapterHarness();
    try {
      const id = await createDevice(harness.hub, 't-session');
      const first = await harness.connect(id);
      await subscribe(first.client, DESIRED);
      first.client.send({ cmd: 'disconnect' });
      await first.client.expectClosed();

      const { client, connack } = await harness.connect(id);
      assert.equal(connack.sessionPresent, true);
      await harness.hub.twins.patch({ deviceId: 't-session' }, { properties: { desired: { back: true } } });
      const note = await response(client);
      assert.equal(note.topic, '$iothub/twin/PATCH/properties/desired/?$version=2');
      assert.equal(note.body, '{"back":true,"$version":2}');
    } finally {
      await harness.close();
    }
  });

  test('a closed connection or an unsubscribe drops its watch on the bus', async () => {
    await withDevice('t-closed', async (harness, client) => {
      // The harness's LocalBus, read through the service: a watch left behind would leak per connection.
      const bus = (harness.hub.twins as unknown as { bus: { subscribers: Map<string, Set<unknown>> } }).bus;
      const watchers = () => bus.subscribers.get(desiredSubject({ deviceId: 't-closed' }))?.size ?? 0;
      await subscribe(client, DESIRED);
      assert.equal(watchers(), 1);
      await unsubscribe(client, DESIRED);
      assert.equal(watchers(), 0);
      await subscribe(client, DESIRED);
      assert.equal(watchers(), 1);
      client.destroy();
      await client.closed;
      for (let i = 0; i < 50 && watchers() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(watchers(), 0);
    });
  });
});
