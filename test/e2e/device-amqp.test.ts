// The official Node device SDK (azure-iot-device with the AMQP transport) against an in-process hub. AMQP honours
// a `:port` in HostName, so this suite runs on an ephemeral port.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import deviceSdk from 'azure-iot-device';
import amqpTransport from 'azure-iot-device-amqp';
import { decodeMessage } from '../../src/domain/message-codec.js';
import type { HubMessage } from '../../src/domain/message.js';
import { partitionOf } from '../../src/domain/partitioning.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

const { Client, Message, ModuleClient } = deviceSdk;
const { Amqp } = amqpTransport;

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

async function connectionString(deviceId: string, moduleId?: string): Promise<string> {
  const registry = hub.running.hub.registry;
  const device = await registry.getDevice(deviceId).catch(() => registry.putDevice(deviceId, {}));
  const key = moduleId === undefined ? device.authentication.symmetricKey.primaryKey : (await registry.putModule(deviceId, moduleId, {})).authentication.symmetricKey.primaryKey;
  return `HostName=localhost:${hub.port};DeviceId=${deviceId};${moduleId === undefined ? '' : `ModuleId=${moduleId};`}SharedAccessKey=${key}`;
}

async function stored(deviceId: string): Promise<HubMessage[]> {
  const log = hub.running.telemetryLog;
  const events = await log.read(partitionOf(deviceId, log.partitionCount), 0, 100_000);
  return events.map((e) => decodeMessage(e.payload)).filter((m) => m.annotations['iothub-connection-device-id'] === deviceId);
}

describe('azure-iot-device over AMQP', () => {
  test('sendEvent stores messages intact and in order, with the hub annotations stamped', async () => {
    const client = Client.fromConnectionString(await connectionString('sdk-amqp-1'), Amqp);
    await client.setOptions({ ca: hub.ca });
    await client.open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const message = new Message(JSON.stringify({ i, temperature: 20 + i }));
      message.messageId = randomUUID();
      message.correlationId = `corr-${i}`;
      message.contentType = 'application/json';
      message.contentEncoding = 'utf-8';
      message.properties.add('seq', String(i));
      message.properties.add('dt-subject', 'thermostat1');
      ids.push(message.messageId);
      await client.sendEvent(message);
    }
    await client.close();

    const messages = await stored('sdk-amqp-1');
    assert.deepEqual(messages.map((m) => m.properties.messageId), ids);
    messages.forEach((m, i) => {
      assert.deepEqual(JSON.parse(m.body.toString()), { i, temperature: 20 + i });
      assert.equal(m.properties.correlationId, `corr-${i}`);
      assert.equal(m.properties.contentType, 'application/json');
      assert.equal(m.properties.contentEncoding, 'utf-8');
      assert.equal(m.properties.to, '/devices/sdk-amqp-1/messages/events');
      assert.deepEqual(m.applicationProperties, { seq: String(i) });
      assert.equal(m.annotations['dt-subject'], 'thermostat1');
      assert.equal(m.annotations['iothub-message-source'], 'Telemetry');
      assert.deepEqual(JSON.parse(String(m.annotations['iothub-connection-auth-method'])), { scope: 'device', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });
      assert.equal(typeof m.annotations['iothub-enqueuedtime'], 'number');
    });
  });

  test('a module client sends output events attributed to the module', async () => {
    const client = ModuleClient.fromConnectionString(await connectionString('sdk-amqp-2', 'filter'), Amqp);
    await client.setOptions({ ca: hub.ca });
    await client.open();
    const message = new Message('filtered');
    message.messageId = 'module-1';
    await client.sendOutputEvent('alerts', message);
    await client.close();
    const [m] = await stored('sdk-amqp-2');
    assert.equal(m?.body.toString(), 'filtered');
    assert.equal(m?.annotations['iothub-connection-module-id'], 'filter');
    assert.equal(m?.applicationProperties['iothub-outputname'], 'alerts');
  });

  test('disabling the device disconnects its client, which then cannot send', async () => {
    const client = Client.fromConnectionString(await connectionString('sdk-amqp-3'), Amqp);
    await client.setOptions({ ca: hub.ca });
    await client.open();
    await client.sendEvent(new Message('before'));
    const disconnected = new Promise<unknown>((resolve) => client.once('disconnect', resolve));
    await hub.running.hub.registry.putDevice('sdk-amqp-3', { deviceId: 'sdk-amqp-3', status: 'disabled' }, '*');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([disconnected, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no disconnect event')), 10_000)))]);
    clearTimeout(timer);
    await assert.rejects(client.sendEvent(new Message('after')));
    await client.close();
    assert.deepEqual((await stored('sdk-amqp-3')).map((m) => m.body.toString()), ['before']);
  });
});
