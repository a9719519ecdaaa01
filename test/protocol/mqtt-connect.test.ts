import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generate, type IConnectPacket } from 'mqtt-packet';
import { TELEMETRY_ANNOTATIONS } from '../../src/domain/message.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';
import {
  assertHubServes,
  connectIdentity,
  connectPacket,
  createDevice,
  createModule,
  deviceToken,
  freshId,
  hostOf,
  MqttTestClient,
  waitForMessages,
  type TestIdentity,
} from './mqtt-test-client.js';

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

/** CONNECTs the hub must refuse with CONNACK 5 and close, each built from a fresh, enabled device. */
const REFUSED: Array<[string, (id: TestIdentity) => Promise<Partial<IConnectPacket>> | Partial<IConnectPacket>]> = [
  ['a token signed with the wrong key', (id) => ({ password: Buffer.from(deviceToken(hostOf(hub), { ...id, key: Buffer.alloc(32, 7).toString('base64') })) })],
  ['an expired token', (id) => ({ password: Buffer.from(deviceToken(hostOf(hub), id, -60)) })],
  ['a password that is no SAS token', () => ({ password: Buffer.from('hunter2') })],
  ['no password (X.509 is not served yet)', () => ({ password: undefined })],
  ['neither username nor password', () => ({ username: undefined, password: undefined })],
  ['a username for another host', (id) => ({ username: `otherhub.example/${id.deviceId}/?api-version=2021-04-12` })],
  ['a username naming another device', (id) => ({ username: `localhost/${id.deviceId}x/?api-version=2021-04-12` })],
  ['a username naming a module of the device', (id) => ({ username: `localhost/${id.deviceId}/m1/?api-version=2021-04-12` })],
  ['a username with extra segments', (id) => ({ username: `localhost/${id.deviceId}/extra/more` })],
  ['a client id with three parts', (id) => ({ clientId: `${id.deviceId}/a/b`, username: `localhost/${id.deviceId}/a/b/?api-version=1` })],
  [
    "another device's valid token",
    async (id) => {
      const other = await createDevice(hub, freshId('other'));
      return { password: Buffer.from(deviceToken(hostOf(hub), other)), clientId: id.deviceId };
    },
  ],
];

describe('MQTT CONNECT', () => {
  test('a CONNECT as the Node SDK sends it is accepted; PINGREQ gets PINGRESP', async () => {
    const id = await createDevice(hub, freshId('node'));
    const { client, connack } = await connectIdentity(hub, id);
    assert.deepEqual([connack.returnCode, connack.sessionPresent], [0, false]);
    client.send({ cmd: 'pingreq' });
    await client.expect('pingresp');
    client.destroy();
  });

  for (const [name, username] of [
    ['the old form without "?"', (d: string) => `localhost/${d}/api-version=2016-11-14&DeviceClientType=iothubclient%2f1.1.0`],
    ['host and ids only', (d: string) => `localhost/${d}`],
    ['a trailing slash', (d: string) => `localhost/${d}/`],
    ['an upper-case host with a port', (d: string) => `LOCALHOST:8883/${d}/?api-version=2020-09-30`],
  ] as const) {
    test(`a username with ${name} is accepted`, async () => {
      const id = await createDevice(hub, freshId('user'));
      const { client, connack } = await connectIdentity(hub, id, { username: username(id.deviceId) });
      assert.equal(connack.returnCode, 0);
      client.destroy();
    });
  }

  test('ids with characters that need care are taken raw from client id and username', async () => {
    const id = await createDevice(hub, freshId("d%41+$#?=!'(x)"));
    const { client, connack } = await connectIdentity(hub, id);
    assert.equal(connack.returnCode, 0);
    client.destroy();
  });

  test('a module connects with {deviceId}/{moduleId}', async () => {
    const device = await createDevice(hub, freshId('edge'));
    const mod = await createModule(hub, device.deviceId, 'filter');
    const { client, connack } = await connectIdentity(hub, mod);
    assert.equal(connack.returnCode, 0);
    client.destroy();
  });

  test("the username's model-id becomes the dt-dataschema of the device's telemetry", async () => {
    const id = await createDevice(hub, freshId('pnp'));
    const username = `localhost:${hub.port}/${id.deviceId}/?api-version=2021-04-12&model-id=dtmi:com:example:Thermostat;1&DeviceClientType=x`;
    const { client } = await connectIdentity(hub, id, { username });
    client.send({ cmd: 'publish', topic: `devices/${id.deviceId}/messages/events/`, payload: Buffer.from('{}'), qos: 1, messageId: 1, dup: false, retain: false });
    await client.expect('puback');
    const [message] = await waitForMessages(hub, id.deviceId, 1);
    assert.equal(message!.annotations[TELEMETRY_ANNOTATIONS.modelId], 'dtmi:com:example:Thermostat;1');
    client.destroy();
  });

  for (const [name, overrides] of REFUSED) {
    test(`${name}: CONNACK 5, the connection closes, the hub keeps serving`, async () => {
      const id = await createDevice(hub, freshId('refused'));
      const { client, connack } = await connectIdentity(hub, id, await overrides(id));
      assert.equal(connack.returnCode, 5);
      await client.expectClosed();
      await assertHubServes(hub);
    });
  }

  test('an unknown device: CONNACK 5', async () => {
    const ghost: TestIdentity = { deviceId: freshId('ghost'), key: Buffer.alloc(32, 1).toString('base64') };
    const { client, connack } = await connectIdentity(hub, ghost);
    assert.equal(connack.returnCode, 5);
    await client.expectClosed();
  });

  test('a disabled device: CONNACK 5', async () => {
    const id = await createDevice(hub, freshId('disabled'));
    await hub.running.hub.registry.putDevice(id.deviceId, { deviceId: id.deviceId, status: 'disabled' }, '*');
    const { client, connack } = await connectIdentity(hub, id);
    assert.equal(connack.returnCode, 5);
    await client.expectClosed();
  });

  test('MQTT 5: an MQTT 5 CONNACK with reason 0x84 (unsupported protocol version), then close', async () => {
    const id = await createDevice(hub, freshId('v5'));
    const client = await MqttTestClient.tls(hub, 5);
    client.send(connectPacket(hostOf(hub), id, { protocolVersion: 5 }), 5);
    const connack = await client.expect('connack');
    assert.equal(connack.reasonCode, 0x84);
    await client.expectClosed();
    await assertHubServes(hub);
  });

  test('MQTT 3.1 (MQIsdp, level 3): CONNACK 1, then close', async () => {
    const id = await createDevice(hub, freshId('v3'));
    const client = await MqttTestClient.tls(hub);
    client.send(connectPacket(hostOf(hub), id, { protocolId: 'MQIsdp', protocolVersion: 3 }));
    assert.equal((await client.expect('connack')).returnCode, 1);
    await client.expectClosed();
  });

  test('a protocol level nobody defined (6): CONNACK 1, then close', async () => {
    const id = await createDevice(hub, freshId('v6'));
    const bytes = generate(connectPacket(hostOf(hub), id));
    // Byte 8 of a CONNECT whose remaining length fits one byte: 2+4 bytes of "MQTT" after the fixed header.
    const levelAt = bytes.indexOf(Buffer.from('MQTT')) + 4;
    assert.equal(bytes[levelAt], 4);
    bytes[levelAt] = 6;
    const client = await MqttTestClient.tls(hub);
    client.sendRaw(bytes);
    assert.equal((await client.expect('connack')).returnCode, 1);
    await client.expectClosed();
  });

  test('MQTT over WebSocket (subprotocol mqtt) connects and publishes like TLS', async () => {
    const id = await createDevice(hub, freshId('ws'));
    const client = await MqttTestClient.webSocket(hub);
    client.send(connectPacket(hostOf(hub), id));
    assert.equal((await client.expect('connack')).returnCode, 0);
    client.send({ cmd: 'publish', topic: `devices/${id.deviceId}/messages/events/a=1`, payload: Buffer.from('over ws'), qos: 1, messageId: 9, dup: false, retain: false });
    assert.equal((await client.expect('puback')).messageId, 9);
    const [message] = await waitForMessages(hub, id.deviceId, 1);
    assert.equal(message!.body.toString(), 'over ws');
    assert.deepEqual(message!.applicationProperties, { a: '1' });
    client.destroy();
  });
});

describe('MQTT malformed and out-of-order input closes only that connection', () => {
  const cases: Array<[string, (client: MqttTestClient, id: TestIdentity) => void]> = [
    ['bytes that are no MQTT packet after the CONNECT', (c) => c.sendRaw(Buffer.from([0xf0, 0x00]))],
    ['a PUBLISH with both QoS bits set', (c) => c.sendRaw(Buffer.from([0x36, 0x00]))],
    ['a SUBSCRIBE with wrong header flags', (c) => c.sendRaw(Buffer.from([0x80, 0x00]))],
    ['a second CONNECT', (c, id) => c.send(connectPacket(hostOf(hub), id))],
    ['a CONNACK from the client', (c) => c.send({ cmd: 'connack', returnCode: 0, sessionPresent: false })],
    ['a PUBREL (QoS 2 flow)', (c) => c.send({ cmd: 'pubrel', messageId: 3 })],
  ];
  for (const [name, misbehave] of cases) {
    test(name, async () => {
      const id = await createDevice(hub, freshId('bad'));
      const { client, connack } = await connectIdentity(hub, id);
      assert.equal(connack.returnCode, 0);
      misbehave(client, id);
      await client.expectClosed();
      await assertHubServes(hub);
    });
  }

  test('a first packet that is not CONNECT: closed without a CONNACK', async () => {
    const client = await MqttTestClient.tls(hub);
    client.send({ cmd: 'pingreq' });
    await client.expectClosed();
    assert.deepEqual(client.unread, []);
    await assertHubServes(hub);
  });

  test('a CONNECT that breaks off half-way and then garbage: closed, no CONNACK', async () => {
    const client = await MqttTestClient.tls(hub);
    client.sendRaw(Buffer.from([0x10, 0x05, 0x00, 0x04, 0x4d, 0x51, 0x54]));
    client.sendRaw(Buffer.from([0x54, 0x04]));
    await client.expectClosed();
    assert.deepEqual(client.unread, []);
  });

  test('a packet announcing more than the hub accepts is refused before it is buffered', async () => {
    const id = await createDevice(hub, freshId('huge'));
    const { client } = await connectIdentity(hub, id);
    // PUBLISH, remaining length 268435455 (the maximum), then 400 KiB of it.
    client.sendRaw(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 7 && !client.isClosed; i++) client.sendRaw(chunk);
    await client.expectClosed();
    await assertHubServes(hub);
  });
});
