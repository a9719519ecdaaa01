// The official Node device SDK (azure-iot-device + azure-iot-device-mqtt) against an in-process hub. MQTT honours
// the port in HostName, so this suite needs no fixed ports.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { TELEMETRY_ANNOTATIONS as A } from '../../src/domain/message.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';
import { createDevice, createModule, freshId, storedMessages, waitForMessages, type TestIdentity } from '../protocol/mqtt-test-client.js';

const { Client, Message, ModuleClient } = device;
const { Mqtt } = deviceMqtt;
type DeviceClient = InstanceType<typeof Client>;

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

function connectionString(id: TestIdentity): string {
  const module = id.moduleId === undefined ? '' : `;ModuleId=${id.moduleId}`;
  return `HostName=localhost:${hub.port};DeviceId=${id.deviceId}${module};SharedAccessKey=${id.key}`;
}

async function openClient(id: TestIdentity, options: Record<string, unknown> = {}): Promise<DeviceClient> {
  const client = Client.fromConnectionString(connectionString(id), Mqtt);
  client.setOptions({ ca: hub.ca, ...options });
  await client.open();
  return client;
}

const AWKWARD = "a+b %25 /?#&=;:,'()*!~ é€😀";

function telemetry(i: number) {
  const message = new Message(JSON.stringify({ i, temperature: 20 + i }));
  message.messageId = `m-${i}`;
  message.correlationId = `corr/${i}?x=1&y`;
  message.contentType = 'application/json';
  message.contentEncoding = 'utf-8';
  message.properties.add('temp alert', 'hi&lo=1');
  message.properties.add('awkward key=&%', AWKWARD);
  message.properties.add('dt-subject', 'thermostat1');
  return message;
}

describe('azure-iot-device over MQTT', () => {
  test('sendEvent: properties arrive intact and in order in the device partition, with the iothub-* annotations', async () => {
    const id = await createDevice(hub, freshId('sdk'));
    const client = await openClient(id);
    for (let i = 0; i < 5; i++) await client.sendEvent(telemetry(i));
    await Promise.all(Array.from({ length: 25 }, (_, k) => client.sendEvent(telemetry(5 + k))));
    await client.close();

    const stored = await storedMessages(hub, id.deviceId);
    assert.deepEqual(stored.map((m) => m.properties.messageId), Array.from({ length: 30 }, (_, i) => `m-${i}`));
    const generationId = (await hub.running.hub.registry.getDevice(id.deviceId)).generationId;
    stored.forEach((m, i) => {
      assert.deepEqual(JSON.parse(m.body.toString()), { i, temperature: 20 + i });
      assert.deepEqual(m.properties, { messageId: `m-${i}`, correlationId: `corr/${i}?x=1&y`, contentType: 'application/json', contentEncoding: 'utf-8' });
      assert.deepEqual(m.applicationProperties, { 'temp alert': 'hi&lo=1', 'awkward key=&%': AWKWARD });
      assert.equal(m.annotations[A.component], 'thermostat1');
      assert.equal(m.annotations[A.deviceId], id.deviceId);
      assert.equal(m.annotations[A.authGenerationId], generationId);
      assert.equal(m.annotations[A.messageSource], 'Telemetry');
      assert.deepEqual(JSON.parse(String(m.annotations[A.authMethod])), { scope: 'device', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });
      assert.equal(typeof m.annotations[A.enqueuedTime], 'number');
    });
  });

  test('a ModuleClient output event carries the output name and the module id', async () => {
    const parent = await createDevice(hub, freshId('sdk-edge'));
    const mod = await createModule(hub, parent.deviceId, 'filter');
    const client = ModuleClient.fromConnectionString(connectionString(mod), Mqtt);
    client.setOptions({ ca: hub.ca });
    await client.open();
    const message = new Message('filtered');
    message.properties.add('level', 'high');
    await client.sendOutputEvent('alerts', message);
    await client.close();

    const [m] = await waitForMessages(hub, parent.deviceId, 1);
    assert.equal(m!.body.toString(), 'filtered');
    assert.equal(m!.annotations[A.moduleId], 'filter');
    assert.deepEqual(m!.applicationProperties, { 'iothub-outputname': 'alerts', level: 'high' });
  });

  test("on('message'): C2D messages arrive in order with body, system and application properties; the queue empties", async () => {
    const id = await createDevice(hub, freshId('sdk-c2d'));
    const c2d = hub.running.hub.c2d;
    const target = { deviceId: id.deviceId };
    await c2d.send(target, {
      body: Buffer.from('{"cmd":"reboot"}'),
      properties: { messageId: 'c2d-1', correlationId: 'corr/1', contentType: 'application/json', contentEncoding: 'utf-8' },
      applicationProperties: { 'iothub-ack': 'full', 'temp alert': AWKWARD },
    });
    const client = await openClient(id);
    const received: Array<InstanceType<typeof Message>> = [];
    const all = new Promise<void>((resolve) => {
      client.on('message', (msg: InstanceType<typeof Message>) => {
        received.push(msg);
        if (received.length === 2) resolve();
      });
    });
    await c2d.send(target, { body: Buffer.from('second'), properties: { messageId: 'c2d-2' }, applicationProperties: {} });
    await all;

    const [first, second] = received;
    assert.equal(first!.data.toString(), '{"cmd":"reboot"}');
    assert.equal(first!.messageId, 'c2d-1');
    assert.equal(first!.correlationId, 'corr/1');
    assert.equal(first!.contentType, 'application/json');
    assert.equal(first!.contentEncoding, 'utf-8');
    assert.equal(first!.to, `/devices/${id.deviceId}/messages/deviceBound`);
    assert.equal(first!.properties.getValue('iothub-ack'), 'full');
    assert.equal(first!.properties.getValue('temp alert'), AWKWARD);
    assert.deepEqual([second!.messageId, second!.data.toString()], ['c2d-2', 'second']);
    // mqtt.js acknowledges on receipt, and the PUBACK completes the message.
    for (let i = 0; (await c2d.count(target)) > 0; i++) {
      assert.ok(i < 200, 'the queue did not empty');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await client.close();
  });

  test('token renewal reconnects and the client keeps sending', async () => {
    const id = await createDevice(hub, freshId('sdk-renew'));
    // A 4 s token renewed 2 s before it expires: the SDK reconnects with a new token every 2 s.
    const client = await openClient(id, { tokenRenewal: { tokenValidTimeInSeconds: 4, tokenRenewalMarginInSeconds: 2 } });
    await client.sendEvent(new Message('before'));
    const connectedSince = (await hub.running.hub.registry.getDevice(id.deviceId)).connectionStateUpdatedTime;
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await client.sendEvent(new Message('after'));
    const view = await hub.running.hub.registry.getDevice(id.deviceId);
    assert.equal(view.connectionState, 'Connected');
    assert.notEqual(view.connectionStateUpdatedTime, connectedSince, 'the client never reconnected');
    await client.close();
    assert.deepEqual((await storedMessages(hub, id.deviceId)).map((m) => m.body.toString()), ['before', 'after']);
  });

  test('disabling the device disconnects it; its next send and a new connection fail with UnauthorizedError', async () => {
    const id = await createDevice(hub, freshId('sdk-disable'));
    const client = await openClient(id);
    await client.sendEvent(new Message('while enabled'));
    await hub.running.hub.registry.putDevice(id.deviceId, { deviceId: id.deviceId, status: 'disabled' }, '*');
    // The SDK emits no event for a dropped telemetry-only connection; the hub's view shows it, and the next send
    // tries to reconnect.
    assert.equal((await hub.running.hub.registry.getDevice(id.deviceId)).connectionState, 'Disconnected');
    const unauthorized = (err: Error) => {
      assert.equal(err.name, 'UnauthorizedError', `${err.name}: ${err.message}`);
      return true;
    };
    await assert.rejects(client.sendEvent(new Message('while disabled')), unauthorized);
    const again = Client.fromConnectionString(connectionString(id), Mqtt);
    again.setOptions({ ca: hub.ca });
    await assert.rejects(again.open(), unauthorized);
    await client.close().catch(() => undefined);
    await again.close().catch(() => undefined);
    assert.deepEqual((await storedMessages(hub, id.deviceId)).map((m) => m.body.toString()), ['while enabled']);
  });
});
