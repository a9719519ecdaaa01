import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { TELEMETRY_ANNOTATIONS as A } from '../../src/domain/message.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';
import {
  assertHubServes,
  connectIdentity,
  createDevice,
  createModule,
  freshId,
  storedMessages,
  waitForMessages,
  type MqttTestClient,
} from './mqtt-test-client.js';

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

function publish(topic: string, payload: string | Buffer, qos: 0 | 1 | 2 = 1, messageId = 1, retain = false): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos, messageId, dup: false, retain };
}

async function connected(prefix: string): Promise<{ client: MqttTestClient; deviceId: string }> {
  const id = await createDevice(hub, freshId(prefix));
  const { client, connack } = await connectIdentity(hub, id);
  assert.equal(connack.returnCode, 0);
  return { client, deviceId: id.deviceId };
}

describe('MQTT device-to-cloud telemetry', () => {
  test("the Node SDK's property bag arrives as system properties, annotations and application properties", async () => {
    const { client, deviceId } = await connected('bag');
    const bag =
      '%24.mid=mid-1&%24.cid=cid%2F1&%24.uid=u1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.exp=2030-01-01T00%3A00%3A00.000Z' +
      '&temp%20alert=hi%26lo%3D1&%24.sub=thermostat1';
    client.send(publish(`devices/${deviceId}/messages/events/${bag}`, '{"t":21}'));
    await client.expect('puback');
    const [m] = await storedMessages(hub, deviceId);
    assert.deepEqual(m!.properties, {
      messageId: 'mid-1',
      correlationId: 'cid/1',
      userId: 'u1',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      absoluteExpiryTime: Date.parse('2030-01-01T00:00:00.000Z'),
    });
    assert.deepEqual(m!.applicationProperties, { 'temp alert': 'hi&lo=1' });
    assert.equal(m!.annotations[A.component], 'thermostat1');
    assert.equal(m!.body.toString(), '{"t":21}');
    client.destroy();
  });

  test('bag edge cases: bare key is null, key= is empty, + stays +, raw $, unknown $. keys dropped, retain flagged', async () => {
    const { client, deviceId } = await connected('edges');
    const bag = 'flag&empty=&plus=a+b&$.to=%2Fdevices%2Fx&%24.ctime=2024-05-06T07%3A08%3A09Z&%24.ifid=urn%3Ax&%24.diagid=7&%24.on=o1&%24%24=d';
    client.send(publish(`devices/${deviceId}/messages/events/${bag}/`, 'x', 1, 1, true));
    await client.expect('puback');
    const [m] = await storedMessages(hub, deviceId);
    assert.deepEqual(m!.applicationProperties, {
      flag: null,
      empty: '',
      plus: 'a+b',
      'iothub-outputname': 'o1',
      $$: 'd',
      'mqtt-retain': 'true',
    });
    assert.deepEqual(m!.properties, { to: '/devices/x', creationTime: Date.parse('2024-05-06T07:08:09Z') });
    assert.equal(m!.annotations['iothub-interface-id'], 'urn:x');
    client.destroy();
  });

  test('the hub stamps the iothub-* annotations', async () => {
    const { client, deviceId } = await connected('stamp');
    client.send(publish(`devices/${deviceId}/messages/events/`, 'x'));
    await client.expect('puback');
    const [m] = await storedMessages(hub, deviceId);
    assert.equal(m!.annotations[A.deviceId], deviceId);
    assert.equal(m!.annotations[A.moduleId], undefined);
    assert.equal(m!.annotations[A.messageSource], 'Telemetry');
    assert.equal(typeof m!.annotations[A.enqueuedTime], 'number');
    assert.match(String(m!.annotations[A.authMethod]), /"scope":"device","type":"sas"/);
    client.destroy();
  });

  test('QoS 0 is stored and not acknowledged', async () => {
    const { client, deviceId } = await connected('qos0');
    client.send(publish(`devices/${deviceId}/messages/events/`, 'fire and forget', 0));
    client.send({ cmd: 'pingreq' });
    await client.expect('pingresp');
    const [m] = await waitForMessages(hub, deviceId, 1);
    assert.equal(m!.body.toString(), 'fire and forget');
    assert.deepEqual(client.unread, []);
    client.destroy();
  });

  test("every PUBACK's message is already in the log, and PUBACKs come in PUBLISH order", async () => {
    const { client, deviceId } = await connected('order');
    const count = 300;
    for (let i = 1; i <= count; i++) client.send(publish(`devices/${deviceId}/messages/events/%24.mid=m${i}`, `body ${i}`, 1, i));
    for (let i = 1; i <= count; i++) {
      const ack = await client.expect('puback');
      assert.equal(ack.messageId, i);
      if (i % 50 === 0 || i === 1) {
        const stored = await storedMessages(hub, deviceId);
        assert.ok(stored.length >= i, `PUBACK ${i} came when only ${stored.length} messages were stored`);
      }
    }
    const stored = await storedMessages(hub, deviceId);
    assert.deepEqual(stored.map((m) => m.properties.messageId), Array.from({ length: count }, (_, i) => `m${i + 1}`));
    client.destroy();
  });

  test('an id percent-encoded in the topic (as the Python SDK sends it) names the same device', async () => {
    const id = await createDevice(hub, freshId('p+q=r'));
    const { client } = await connectIdentity(hub, id);
    client.send(publish(`devices/${encodeURIComponent(id.deviceId)}/messages/events/`, 'encoded'));
    await client.expect('puback');
    assert.equal((await storedMessages(hub, id.deviceId)).length, 1);
    client.destroy();
  });

  test('a module publishes on its own topic; $.on and the trailing slash of output events are understood', async () => {
    const device = await createDevice(hub, freshId('modpub'));
    const mod = await createModule(hub, device.deviceId, 'm1');
    const { client } = await connectIdentity(hub, mod);
    client.send(publish(`devices/${device.deviceId}/modules/m1/messages/events/%24.on=out1&k=v/`, 'out'));
    await client.expect('puback');
    const [m] = await storedMessages(hub, device.deviceId);
    assert.equal(m!.annotations[A.moduleId], 'm1');
    assert.deepEqual(m!.applicationProperties, { 'iothub-outputname': 'out1', k: 'v' });
    client.destroy();
  });
});

describe('MQTT PUBLISH the hub refuses, after one it accepted: the connection closes, nothing more is stored, the hub keeps serving', () => {
  const cases: Array<[string, (deviceId: string) => IPublishPacket]> = [
    ["another device's telemetry topic", () => publish('devices/someone-else/messages/events/', 'x')],
    ["a module topic of the device's own id", (d) => publish(`devices/${d}/modules/m1/messages/events/`, 'x')],
    ['a topic the hub does not serve', (d) => publish(`devices/${d}/messages/elsewhere/`, 'x')],
    ['QoS 2', (d) => publish(`devices/${d}/messages/events/`, 'x', 2)],
    ['a property bag with bad percent-encoding', (d) => publish(`devices/${d}/messages/events/a=%E0%A4%A`, 'x')],
    ['a property with no name', (d) => publish(`devices/${d}/messages/events/=v`, 'x')],
    ['a message over 256 KiB', (d) => publish(`devices/${d}/messages/events/`, Buffer.alloc(256 * 1024 + 1))],
  ];
  for (const [name, packet] of cases) {
    test(name, async () => {
      const { client, deviceId } = await connected('refuse');
      // A good message first: the connection then remembers its own topic, and the refusal must not depend on that.
      client.send(publish(`devices/${deviceId}/messages/events/`, 'fine', 1, 7));
      assert.equal((await client.expect('puback')).messageId, 7);
      client.send(packet(deviceId));
      await client.expectClosed();
      assert.deepEqual(client.unread, []);
      assert.equal((await storedMessages(hub, deviceId)).length, 1);
      await assertHubServes(hub);
    });
  }
});
