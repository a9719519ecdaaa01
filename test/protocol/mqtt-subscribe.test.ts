import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ISubscription } from 'mqtt-packet';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';
import { assertHubServes, connectIdentity, createDevice, createModule, freshId, type MqttTestClient, type TestIdentity } from './mqtt-test-client.js';

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

async function subscribe(client: MqttTestClient, subscriptions: ISubscription[], messageId = 7): Promise<number[]> {
  client.send({ cmd: 'subscribe', messageId, subscriptions });
  const suback = await client.expect('suback');
  assert.equal(suback.messageId, messageId);
  return suback.granted as number[];
}

describe('MQTT SUBSCRIBE', () => {
  test('a device may take C2D (raw or encoded id), methods and twin filters; QoS is granted up to 1', async () => {
    const id = await createDevice(hub, freshId('sub+dev'));
    const { client } = await connectIdentity(hub, id);
    const granted = await subscribe(client, [
      { topic: `devices/${id.deviceId}/messages/devicebound/#`, qos: 2 },
      { topic: '$iothub/methods/POST/#', qos: 0 },
      { topic: '$iothub/twin/res/#', qos: 0 },
      { topic: '$iothub/twin/PATCH/properties/desired/#', qos: 1 },
      { topic: `devices/${encodeURIComponent(id.deviceId)}/messages/devicebound/#`, qos: 1 },
    ]);
    assert.deepEqual(granted, [1, 0, 0, 1, 1]);
    client.destroy();
  });

  test('a module may take its inputs, methods and twin filters', async () => {
    const device = await createDevice(hub, freshId('sub-mod'));
    const mod = await createModule(hub, device.deviceId, 'm1');
    const { client } = await connectIdentity(hub, mod);
    const granted = await subscribe(client, [
      { topic: `devices/${device.deviceId}/modules/m1/inputs/#`, qos: 1 },
      { topic: '$iothub/methods/POST/#', qos: 0 },
      { topic: '$iothub/twin/res/#', qos: 0 },
    ]);
    assert.deepEqual(granted, [1, 0, 0]);
    client.destroy();
  });

  test('UNSUBSCRIBE is answered with UNSUBACK', async () => {
    const id = await createDevice(hub, freshId('unsub'));
    const { client } = await connectIdentity(hub, id);
    await subscribe(client, [{ topic: '$iothub/twin/res/#', qos: 0 }]);
    client.send({ cmd: 'unsubscribe', messageId: 11, unsubscriptions: ['$iothub/twin/res/#', 'not/subscribed'] });
    assert.equal((await client.expect('unsuback')).messageId, 11);
    client.destroy();
  });

  const refused: Array<[string, (id: TestIdentity) => string, 'device' | 'module']> = [
    ['everything (#)', () => '#', 'device'],
    ["another device's C2D", () => 'devices/someone-else/messages/devicebound/#', 'device'],
    ['a wildcard device id', () => 'devices/+/messages/devicebound/#', 'device'],
    ['its own telemetry topic', (id) => `devices/${id.deviceId}/messages/events/`, 'device'],
    ['all twin topics', () => '$iothub/twin/#', 'device'],
    ['module inputs, as a device', (id) => `devices/${id.deviceId}/modules/m1/inputs/#`, 'device'],
    ['C2D, as a module', (id) => `devices/${id.deviceId}/messages/devicebound/#`, 'module'],
    ["another module's inputs", (id) => `devices/${id.deviceId}/modules/other/inputs/#`, 'module'],
  ];
  for (const [name, filter, kind] of refused) {
    test(`a filter IoT Hub does not offer closes the connection: ${name}`, async () => {
      const device = await createDevice(hub, freshId('refsub'));
      const id = kind === 'device' ? device : await createModule(hub, device.deviceId, 'm1');
      const { client } = await connectIdentity(hub, id);
      client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$iothub/twin/res/#', qos: 0 }, { topic: filter(device), qos: 1 }] });
      await client.expectClosed();
      assert.deepEqual(client.unread, []);
      await assertHubServes(hub);
    });
  }
});

describe('MQTT sessions on the wire', () => {
  test('CleanSession=0 resumes the session (sessionPresent), CleanSession=1 discards it', async () => {
    const id = await createDevice(hub, freshId('session'));
    const first = await connectIdentity(hub, id, { clean: false });
    assert.equal(first.connack.sessionPresent, false);
    await subscribe(first.client, [{ topic: '$iothub/twin/res/#', qos: 0 }]);
    first.client.send({ cmd: 'disconnect' });
    await first.client.expectClosed();

    const resumed = await connectIdentity(hub, id, { clean: false });
    assert.equal(resumed.connack.sessionPresent, true);
    resumed.client.destroy();

    const clean = await connectIdentity(hub, id, { clean: true });
    assert.equal(clean.connack.sessionPresent, false);
    clean.client.send({ cmd: 'disconnect' });
    await clean.client.expectClosed();

    const afterClean = await connectIdentity(hub, id, { clean: false });
    assert.equal(afterClean.connack.sessionPresent, false);
    afterClean.client.destroy();
  });
});
