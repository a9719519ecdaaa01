import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';
import {
  assertHubServes,
  connectIdentity,
  createDevice,
  deviceToken,
  freshId,
  hostOf,
  storedMessages,
  waitForMessages,
  type TestIdentity,
} from './mqtt-test-client.js';

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

function ping(deviceId: string, messageId: number): IPublishPacket {
  return { cmd: 'publish', topic: `devices/${deviceId}/messages/events/`, payload: Buffer.from('ping'), qos: 1, messageId, dup: false, retain: false };
}

function willOn(id: TestIdentity, bag = '%24.mid=will-1&cause=lost') {
  return { will: { topic: `devices/${id.deviceId}/messages/events/${bag}`, payload: Buffer.from('gone'), qos: 1 as const, retain: false } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('MQTT connection life cycle', () => {
  test('a second connection of the same device drops the first; the second works', async () => {
    const id = await createDevice(hub, freshId('dup'));
    const first = await connectIdentity(hub, id);
    const second = await connectIdentity(hub, id);
    assert.equal(second.connack.returnCode, 0);
    await first.client.expectClosed();
    second.client.send(ping(id.deviceId, 5));
    assert.equal((await second.client.expect('puback')).messageId, 5);
    second.client.destroy();
  });

  test('silence beyond 1.5 x keep-alive closes the connection; PINGREQs keep it open', async () => {
    const quiet = await createDevice(hub, freshId('quiet'));
    const chatty = await createDevice(hub, freshId('chatty'));
    const started = Date.now();
    const q = await connectIdentity(hub, quiet, { keepalive: 1 });
    const c = await connectIdentity(hub, chatty, { keepalive: 1 });
    const pinging = setInterval(() => c.client.send({ cmd: 'pingreq' }), 400);
    try {
      await q.client.expectClosed(4000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 1400, `closed after ${elapsed} ms, before 1.5 x keep-alive`);
      await sleep(700);
      assert.equal(c.client.isClosed, false, 'the client that pinged was closed');
    } finally {
      clearInterval(pinging);
      q.client.destroy();
      c.client.destroy();
    }
  });

  test('the connection closes when its SAS token expires', async () => {
    const id = await createDevice(hub, freshId('expiring'));
    const started = Date.now();
    const { client, connack } = await connectIdentity(hub, id, { password: Buffer.from(deviceToken(hostOf(hub), id, 2)) });
    assert.equal(connack.returnCode, 0);
    await client.expectClosed(5000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900, `closed after ${elapsed} ms, well before the token expired`);
  });

  test('the will is published as telemetry when the connection is lost', async () => {
    const id = await createDevice(hub, freshId('will'));
    const { client } = await connectIdentity(hub, id, willOn(id));
    client.destroy();
    const [will] = await waitForMessages(hub, id.deviceId, 1);
    assert.equal(will!.body.toString(), 'gone');
    assert.equal(will!.properties.messageId, 'will-1');
    assert.deepEqual(will!.applicationProperties, { cause: 'lost', 'iothub-MessageType': 'Will' });
  });

  test('the will is published when keep-alive runs out', async () => {
    const id = await createDevice(hub, freshId('will-ka'));
    const { client } = await connectIdentity(hub, id, { keepalive: 1, ...willOn(id) });
    await client.expectClosed(4000);
    assert.equal((await waitForMessages(hub, id.deviceId, 1))[0]!.applicationProperties['iothub-MessageType'], 'Will');
  });

  test('no will after DISCONNECT, nor for a will on a topic that is not the identity telemetry topic', async () => {
    const polite = await createDevice(hub, freshId('polite'));
    const p = await connectIdentity(hub, polite, willOn(polite));
    p.client.send({ cmd: 'disconnect' });
    await p.client.expectClosed();
    const stray = await createDevice(hub, freshId('stray'));
    const s = await connectIdentity(hub, stray, { will: { topic: 'devices/someone-else/messages/events/', payload: Buffer.from('x'), qos: 0, retain: false } });
    assert.equal(s.connack.returnCode, 0);
    s.client.destroy();
    // A canary's message proves the hub got that far: the wills would have been stored before it.
    await assertHubServes(hub);
    await sleep(100);
    assert.equal((await storedMessages(hub, polite.deviceId)).length, 0);
    assert.equal((await storedMessages(hub, stray.deviceId)).length, 0);
  });

  test('disabling the device ends its connection (no will) and it cannot connect again', async () => {
    const id = await createDevice(hub, freshId('tobedisabled'));
    const { client } = await connectIdentity(hub, id, willOn(id));
    await hub.running.hub.registry.putDevice(id.deviceId, { deviceId: id.deviceId, status: 'disabled' }, '*');
    await client.expectClosed();
    assert.equal((await connectIdentity(hub, id)).connack.returnCode, 5);
    await sleep(100);
    assert.equal((await storedMessages(hub, id.deviceId)).length, 0);
  });

  test('deleting the device ends its connection', async () => {
    const id = await createDevice(hub, freshId('tobedeleted'));
    const { client } = await connectIdentity(hub, id);
    await hub.running.hub.registry.deleteDevice(id.deviceId, '*');
    await client.expectClosed();
  });
});
