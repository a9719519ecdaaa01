import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import device from 'azure-iot-device';
import amqpTransport from 'azure-iot-device-amqp';
import httpTransport from 'azure-iot-device-http';
import mqttTransport from 'azure-iot-device-mqtt';
import iothub from 'azure-iothub';
import { createSasToken } from '../../src/domain/sas.js';
import { rawRequest } from '../support/https-client.js';
import type { AzureSuite } from './azure-sdk.test.js';

/** What the suite starts the hub with for these scenarios: feedback every second, two deliveries per message. */
export const C2D_START_ARGS = ['--feedback-interval-seconds', '1', '--c2d-max-delivery-count', '2'];

type Transport = typeof mqttTransport.Mqtt | typeof amqpTransport.Amqp | typeof httpTransport.Http;
const TRANSPORTS: Record<string, Transport> = { Mqtt: mqttTransport.Mqtt, Amqp: amqpTransport.Amqp, Http: httpTransport.Http };

interface FeedbackRecord {
  originalMessageId: string;
  statusCode: string;
  deviceId: string;
  deviceGenerationId: string;
  enqueuedTimeUtc: string;
  description: string;
}

/**
 * Issue 4's "done when": `azure-iothub` sends and reads feedback, `azure-iot-device` receives over Mqtt, Amqp and
 * Http and completes, rejects or abandons; expiry, the delivery count limit, purge, offline queues in order.
 */
export function c2dScenarios(suite: AzureSuite): void {
  let service: iothub.Client;
  let registry: iothub.Registry;
  const feedback = new Map<string, FeedbackRecord>();
  const feedbackWaiters = new Map<string, () => void>();

  async function createDevice(deviceId: string): Promise<string> {
    const created = (await registry.create({ deviceId })).responseBody;
    return `HostName=localhost;DeviceId=${deviceId};SharedAccessKey=${created.authentication?.symmetricKey?.primaryKey}`;
  }

  function feedbackFor(messageId: string, ms = 15_000): Promise<FeedbackRecord> {
    const known = feedback.get(messageId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no feedback for ${messageId} within ${ms} ms`)), ms);
      feedbackWaiters.set(messageId, () => {
        clearTimeout(timer);
        resolve(feedback.get(messageId)!);
      });
    });
  }

  async function send(deviceId: string, body: string, options: { ack?: string; expiryTimeUtc?: number; properties?: Record<string, string> } = {}): Promise<string> {
    const message = new device.Message(body);
    message.messageId = randomUUID();
    message.ack = options.ack ?? 'full';
    // The service SDK hands expiryTimeUtc to its rhea unchanged, which encodes a number as a timestamp (a Date throws).
    if (options.expiryTimeUtc) message.expiryTimeUtc = options.expiryTimeUtc;
    for (const [k, v] of Object.entries(options.properties ?? {})) message.properties.add(k, v);
    await service.send(deviceId, message);
    return message.messageId;
  }

  /** Opens a device client and hands each message to `onMessage` until closed. */
  async function openDevice(cs: string, transport: Transport, onMessage: (client: device.Client, m: device.Message) => void): Promise<device.Client> {
    const client = device.Client.fromConnectionString(cs, transport as never);
    client.on('message', (m: device.Message) => onMessage(client, m));
    client.on('error', () => undefined);
    await client.open();
    return client;
  }

  test('c2d: the service client connects and its feedback receiver listens', async () => {
    registry = iothub.Registry.fromConnectionString(suite.serviceConnectionString());
    service = iothub.Client.fromConnectionString(suite.serviceConnectionString());
    await service.open();
    const receiver = (await service.getFeedbackReceiver()).result;
    receiver.on('message', (msg: device.Message) => {
      assert.equal(msg.contentType, 'application/vnd.microsoft.iothub.feedback.json');
      for (const record of JSON.parse(msg.getData().toString()) as FeedbackRecord[]) {
        feedback.set(record.originalMessageId, record);
        feedbackWaiters.get(record.originalMessageId)?.();
      }
    });
  });

  for (const [name, transport] of Object.entries(TRANSPORTS)) {
    test(`c2d over ${name}: received with body and properties, completed, feedback Success`, async () => {
      const deviceId = `c2d-ok-${name.toLowerCase()}`;
      const cs = await createDevice(deviceId);
      const received: device.Message[] = [];
      let gotIt!: () => void;
      const arrived = new Promise<void>((r) => (gotIt = r));
      const client = await openDevice(cs, transport, (c, m) => {
        received.push(m);
        c.complete(m, () => gotIt());
      });
      try {
        const id = await send(deviceId, `hello ${name}`, { properties: { colour: 'blue' } });
        await arrived;
        assert.equal(received[0]!.getData().toString(), `hello ${name}`);
        assert.equal(received[0]!.messageId, id);
        const colour = received[0]!.properties.getValue(name === 'Http' ? 'iothub-app-colour' : 'colour');
        assert.equal(colour, 'blue');
        const record = await feedbackFor(id);
        assert.equal(record.statusCode, 'Success');
        assert.equal(record.deviceId, deviceId);
        assert.equal(record.deviceGenerationId, (await registry.get(deviceId)).responseBody.generationId);
      } finally {
        await client.close();
      }
    });
  }

  for (const name of ['Amqp', 'Http']) {
    test(`c2d over ${name}: reject gives feedback Rejected; abandon redelivers, and the second abandon exceeds the delivery count`, async () => {
      const deviceId = `c2d-settle-${name.toLowerCase()}`;
      const cs = await createDevice(deviceId);
      const seen: string[] = [];
      const client = await openDevice(cs, TRANSPORTS[name]!, (c, m) => {
        seen.push(String(m.getData()));
        if (String(m.getData()) === 'reject me') c.reject(m, () => undefined);
        else c.abandon(m, () => undefined);
      });
      try {
        const rejected = await send(deviceId, 'reject me');
        assert.equal((await feedbackFor(rejected)).statusCode, 'Rejected');
        const abandoned = await send(deviceId, 'abandon me');
        assert.equal((await feedbackFor(abandoned)).statusCode, 'DeliveryCountExceeded');
        assert.deepEqual(seen, ['reject me', 'abandon me', 'abandon me'], 'abandoned once, delivered again, then dead-lettered');
      } finally {
        await client.close();
      }
    });
  }

  test('c2d: messages queued while the device is offline arrive in order when it connects (Mqtt)', async () => {
    const deviceId = 'c2d-offline';
    const cs = await createDevice(deviceId);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await send(deviceId, `queued ${i}`, { ack: 'none' }));
    assert.equal((await registry.get(deviceId)).responseBody.cloudToDeviceMessageCount, 5);
    const received: string[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const client = await openDevice(cs, TRANSPORTS.Mqtt!, (c, m) => {
      received.push(m.messageId);
      c.complete(m, () => (received.length === 5 ? done() : undefined));
    });
    try {
      await all;
      assert.deepEqual(received, ids);
    } finally {
      await client.close();
    }
  });

  test('c2d: an expired message is dropped with feedback Expired', async () => {
    const deviceId = 'c2d-expiry';
    await createDevice(deviceId);
    const id = await send(deviceId, 'too late', { expiryTimeUtc: Date.now() + 1500 });
    const record = await feedbackFor(id);
    assert.equal(record.statusCode, 'Expired');
    assert.equal((await registry.get(deviceId)).responseBody.cloudToDeviceMessageCount, 0);
  });

  test('c2d: purge over REST empties the queue, with feedback Purged', async () => {
    const deviceId = 'c2d-purge';
    await createDevice(deviceId);
    const ids = [await send(deviceId, 'p1'), await send(deviceId, 'p2', { ack: 'positive' }), await send(deviceId, 'p3', { ack: 'negative' })];
    const token = createSasToken({ resource: 'localhost', keyBase64: suite.policy('service').primaryKey, keyName: 'service', expiry: Date.now() / 1000 + 600, encode: false });
    const res = await rawRequest({ port: 443, ca: suite.ca(), method: 'DELETE', path: `/devices/${deviceId}/commands?api-version=2021-04-12`, headers: { authorization: token } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), { totalMessagesPurged: 3, deviceId, moduleId: null });
    assert.equal((await feedbackFor(ids[0]!)).statusCode, 'Purged');
    assert.equal((await feedbackFor(ids[2]!)).statusCode, 'Purged');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(feedback.has(ids[1]!), false, 'ack positive asks for no feedback on a purge');
  });

  test('c2d: sending to an unknown device fails with DeviceNotFoundError', async () => {
    await assert.rejects(service.send('c2d-nobody', new device.Message('x')), (err: Error) => err.name === 'DeviceNotFoundError');
  });

  test('c2d: the service client closes', async () => {
    await service.close();
  });
}
