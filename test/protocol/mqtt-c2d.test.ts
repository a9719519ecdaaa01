// Cloud-to-device messages over MQTT: topic and property bag, QoS 1 (PUBACK completes) and QoS 0 (completed on
// send), the in-flight window, what happens to unacknowledged messages when delivery stops, and feedback.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { feedbackRecordsOf, type C2dMessage, type FeedbackBatch } from '../../src/domain/c2d.js';
import type { PropertyValue } from '../../src/domain/message.js';
import type { MqttAdapterOptions } from '../../src/protocols/mqtt/mqtt-adapter.js';
import { deviceboundTopic } from '../../src/protocols/mqtt/devicebound-topic.js';
import { startAdapterHarness, type AdapterHarness } from './mqtt-adapter-harness.js';
import { createDevice, type MqttTestClient, type TestIdentity } from './mqtt-test-client.js';

/** No rescans: whatever arrives within a test's timeouts came because the hub was told, not because it polled. */
const NO_RESCAN = { c2dRescanMs: 600_000 } satisfies Partial<MqttAdapterOptions>;

/** How long a test waits to be sure that nothing (more) arrives. */
const QUIET_MS = 150;

async function start(adapter: Partial<MqttAdapterOptions> = {}): Promise<AdapterHarness> {
  return startAdapterHarness({ adapter: { ...NO_RESCAN, ...adapter } });
}

async function subscribeC2d(client: MqttTestClient, deviceId: string, qos: 0 | 1 = 1): Promise<void> {
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${deviceId}/messages/devicebound/#`, qos }] });
  assert.deepEqual((await client.expect('suback')).granted, [qos]);
}

function send(harness: AdapterHarness, deviceId: string, messageId: string, applicationProperties: Record<string, PropertyValue> = {}): Promise<C2dMessage> {
  return harness.hub.c2d.send({ deviceId }, { body: Buffer.from(`body of ${messageId}`), properties: { messageId }, applicationProperties });
}

/** The message id in a delivery's property bag. */
function midOf(publish: IPublishPacket): string | undefined {
  const bag = publish.topic.split('/')[4]!;
  const pair = bag.split('&').find((p) => p.startsWith('%24.mid='));
  return pair === undefined ? undefined : decodeURIComponent(pair.slice('%24.mid='.length));
}

async function publishes(client: MqttTestClient, count: number): Promise<IPublishPacket[]> {
  const out: IPublishPacket[] = [];
  for (let i = 0; i < count; i++) out.push(await client.expect('publish'));
  return out;
}

async function assertNothingArrives(client: MqttTestClient): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  assert.deepEqual(client.unread, []);
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function queueLength(harness: AdapterHarness, deviceId: string): Promise<number> {
  return harness.hub.c2d.count({ deviceId });
}

async function device(harness: AdapterHarness, deviceId: string): Promise<TestIdentity> {
  return createDevice(harness.hub, deviceId);
}

describe('MQTT cloud-to-device delivery', () => {
  test('QoS 1: the exact topic, property bag and body; the message stays locked until PUBACK, which removes it', async () => {
    const harness = await start();
    const id = await device(harness, 'dev1');
    const { client } = await harness.connect(id);
    await subscribeC2d(client, 'dev1');
    await harness.hub.c2d.send(
      { deviceId: 'dev1' },
      {
        body: Buffer.from([0, 1, 2, 255]),
        properties: {
          messageId: 'm1',
          correlationId: 'c/1',
          userId: 'u1',
          contentType: 'application/json',
          contentEncoding: 'utf-8',
          absoluteExpiryTime: Date.parse('2099-01-01T00:00:00.000Z'),
        },
        applicationProperties: { 'temp alert': 'hi&lo=1', 'iothub-ack': 'full', n: 3 },
      },
    );
    const publish = await client.expect('publish');
    assert.equal(
      publish.topic,
      'devices/dev1/messages/devicebound/%24.mid=m1&%24.exp=2099-01-01T00%3A00%3A00.000Z&%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound' +
        '&%24.cid=c%2F1&%24.uid=u1&%24.ct=application%2Fjson&%24.ce=utf-8&iothub-ack=full&temp%20alert=hi%26lo%3D1&n=3',
    );
    assert.deepEqual(publish.payload, Buffer.from([0, 1, 2, 255]));
    assert.deepEqual([publish.qos, publish.messageId, publish.dup, publish.retain], [1, 1, false, false]);

    await assertNothingArrives(client);
    assert.equal(await queueLength(harness, 'dev1'), 1);
    assert.equal(await harness.hub.c2d.receive({ deviceId: 'dev1' }), undefined, 'locked: not offered to anyone else');

    client.send({ cmd: 'puback', messageId: 1 });
    await eventually('the queue empties', async () => (await queueLength(harness, 'dev1')) === 0);
    await assertNothingArrives(client);
    await harness.close();
  });

  test('messages queued before the SUBSCRIBE are delivered after the SUBACK, in order', async () => {
    const harness = await start();
    const id = await device(harness, 'late');
    const { client } = await harness.connect(id);
    for (const mid of ['a', 'b', 'c']) await send(harness, 'late', mid);
    await assertNothingArrives(client);

    await subscribeC2d(client, 'late');
    const got = await publishes(client, 3);
    assert.deepEqual(got.map(midOf), ['a', 'b', 'c']);
    assert.deepEqual(got.map((p) => p.payload.toString()), ['body of a', 'body of b', 'body of c']);
    assert.deepEqual(got.map((p) => p.messageId), [1, 2, 3]);
    await harness.close();
  });

  test('a message sent while the device is subscribed arrives at once, without a rescan', async () => {
    const harness = await start();
    const id = await device(harness, 'prompt');
    const { client } = await harness.connect(id);
    await subscribeC2d(client, 'prompt');
    await assertNothingArrives(client);

    const sent = Date.now();
    await send(harness, 'prompt', 'now');
    const publish = await client.expect('publish', 1000);
    assert.equal(midOf(publish), 'now');
    assert.ok(Date.now() - sent < 1000);
    await harness.close();
  });

  test('QoS 0: delivered once and completed without a PUBACK', async () => {
    const harness = await start();
    const id = await device(harness, 'fire-and-forget');
    const { client } = await harness.connect(id);
    await subscribeC2d(client, 'fire-and-forget', 0);
    await send(harness, 'fire-and-forget', 'q0');
    const publish = await client.expect('publish');
    assert.equal(midOf(publish), 'q0');
    assert.equal(publish.qos, 0);
    assert.equal(publish.messageId, undefined);
    await eventually('the queue empties', async () => (await queueLength(harness, 'fire-and-forget')) === 0);
    await assertNothingArrives(client);
    await harness.close();
  });

  test('a connection that closes without PUBACK gives the message back; a resumed session gets it again without a SUBSCRIBE', async () => {
    const harness = await start();
    const id = await device(harness, 'flaky');
    const first = await harness.connect(id, { clean: false });
    await subscribeC2d(first.client, 'flaky');
    await send(harness, 'flaky', 'again');
    assert.equal(midOf(await first.client.expect('publish')), 'again');
    first.client.destroy();
    await first.client.closed;

    // The lock (60 s) has not ended and there is no rescan: only the release can make it visible again.
    const second = await harness.connect(id, { clean: false });
    assert.equal(second.connack.sessionPresent, true);
    const publish = await second.client.expect('publish');
    assert.equal(midOf(publish), 'again');
    assert.equal(publish.payload.toString(), 'body of again');
    second.client.send({ cmd: 'puback', messageId: publish.messageId! });
    await eventually('the queue empties', async () => (await queueLength(harness, 'flaky')) === 0);
    await harness.close();
  });

  test('a clean session gets nothing until it subscribes again', async () => {
    const harness = await start();
    const id = await device(harness, 'forgetful');
    const first = await harness.connect(id, { clean: false });
    await subscribeC2d(first.client, 'forgetful');
    first.client.destroy();
    await first.client.closed;
    await send(harness, 'forgetful', 'waiting');

    const second = await harness.connect(id, { clean: true });
    await assertNothingArrives(second.client);
    await subscribeC2d(second.client, 'forgetful');
    assert.equal(midOf(await second.client.expect('publish')), 'waiting');
    await harness.close();
  });

  test('UNSUBSCRIBE stops deliveries and gives back what was unacknowledged at once', async () => {
    const harness = await start();
    const id = await device(harness, 'quitter');
    const { client } = await harness.connect(id);
    await subscribeC2d(client, 'quitter');
    await send(harness, 'quitter', 'held');
    assert.equal(midOf(await client.expect('publish')), 'held');

    client.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['devices/quitter/messages/devicebound/#'] });
    await client.expect('unsuback');
    await send(harness, 'quitter', 'after');
    await assertNothingArrives(client);
    assert.equal(await queueLength(harness, 'quitter'), 2);
    const next = await harness.hub.c2d.receive({ deviceId: 'quitter' });
    assert.equal(next?.content.properties.messageId, 'held', 'released, not left locked');

    // A PUBACK for the publish that was given back changes nothing and is no error.
    client.send({ cmd: 'puback', messageId: 1 });
    client.send({ cmd: 'pingreq' });
    await client.expect('pingresp');
    assert.equal(await queueLength(harness, 'quitter'), 2);
    await harness.close();
  });

  test('the in-flight window: exactly maxInflightC2d unacknowledged publishes; each PUBACK lets one more out', async () => {
    const harness = await start({ maxInflightC2d: 5 });
    const id = await device(harness, 'busy');
    const { client } = await harness.connect(id);
    for (let i = 1; i <= 40; i++) await send(harness, 'busy', `m${i}`);
    await subscribeC2d(client, 'busy');

    const first = await publishes(client, 5);
    assert.deepEqual(first.map(midOf), ['m1', 'm2', 'm3', 'm4', 'm5']);
    await assertNothingArrives(client);

    client.send({ cmd: 'puback', messageId: first[0]!.messageId! });
    client.send({ cmd: 'puback', messageId: first[1]!.messageId! });
    const more = await publishes(client, 2);
    assert.deepEqual(more.map(midOf), ['m6', 'm7']);
    await assertNothingArrives(client);

    const all = [...first, ...more];
    const outstanding = all.slice(2);
    while (outstanding.length > 0) {
      client.send({ cmd: 'puback', messageId: outstanding.shift()!.messageId! });
      if (all.length < 40) {
        const next = await client.expect('publish');
        all.push(next);
        outstanding.push(next);
      }
    }
    assert.deepEqual(all.map(midOf), Array.from({ length: 40 }, (_, i) => `m${i + 1}`));
    await eventually('the queue empties', async () => (await queueLength(harness, 'busy')) === 0);
    await assertNothingArrives(client);
    await harness.close();
  });

  test('packet ids go on counting after an UNSUBSCRIBE, so a late PUBACK cannot complete a newer publish', async () => {
    const harness = await start();
    const id = await device(harness, 'resubscriber');
    const { client } = await harness.connect(id);
    await subscribeC2d(client, 'resubscriber');
    await send(harness, 'resubscriber', 'm1');
    assert.equal((await client.expect('publish')).messageId, 1);
    client.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['devices/resubscriber/messages/devicebound/#'] });
    await client.expect('unsuback');

    await subscribeC2d(client, 'resubscriber');
    const again = await client.expect('publish');
    assert.deepEqual([midOf(again), again.messageId], ['m1', 2]);
    client.send({ cmd: 'puback', messageId: 1 });
    await assertNothingArrives(client);
    assert.equal(await harness.hub.c2d.receive({ deviceId: 'resubscriber' }), undefined, 'still locked by publish 2');
    client.send({ cmd: 'puback', messageId: 2 });
    await eventually('the queue empties', async () => (await queueLength(harness, 'resubscriber')) === 0);
    await harness.close();
  });

  test('a device that never acknowledges does not hold up another device', async () => {
    const harness = await start({ maxInflightC2d: 5 });
    const slow = await device(harness, 'slow');
    const fast = await device(harness, 'fast');
    const slowConnection = await harness.connect(slow);
    const fastConnection = await harness.connect(fast);
    await subscribeC2d(slowConnection.client, 'slow');
    await subscribeC2d(fastConnection.client, 'fast');
    for (let i = 1; i <= 10; i++) {
      await send(harness, 'slow', `s${i}`);
      await send(harness, 'fast', `f${i}`);
    }
    const fastGot: string[] = [];
    for (let i = 0; i < 10; i++) {
      const publish = await fastConnection.client.expect('publish');
      fastGot.push(midOf(publish)!);
      fastConnection.client.send({ cmd: 'puback', messageId: publish.messageId! });
    }
    assert.deepEqual(fastGot, Array.from({ length: 10 }, (_, i) => `f${i + 1}`));
    await eventually('the fast queue empties', async () => (await queueLength(harness, 'fast')) === 0);
    assert.deepEqual((await publishes(slowConnection.client, 5)).map(midOf), ['s1', 's2', 's3', 's4', 's5']);
    await assertNothingArrives(slowConnection.client);
    assert.equal(await queueLength(harness, 'slow'), 10);
    await harness.close();
  });

  test('a PUBACK for a packet id not in flight is ignored', async () => {
    const harness = await start();
    const id = await device(harness, 'stray');
    const { client } = await harness.connect(id);
    client.send({ cmd: 'puback', messageId: 999 });
    await subscribeC2d(client, 'stray');
    client.send({ cmd: 'puback', messageId: 7 });
    client.send({ cmd: 'pingreq' });
    await client.expect('pingresp');
    assert.equal(client.isClosed, false);
    await harness.close();
  });

  test('a store failure while locking is survived: the next notification delivers', async () => {
    const harness = await start();
    const id = await device(harness, 'unlucky');
    const c2d = harness.hub.c2d;
    const receiveMany = c2d.receiveMany.bind(c2d);
    let failures = 0;
    c2d.receiveMany = async (target, max) => {
      if (failures++ === 0) throw new Error('disk on fire');
      return receiveMany(target, max);
    };
    await send(harness, 'unlucky', 'first');
    const { client } = await harness.connect(id);
    await subscribeC2d(client, 'unlucky');
    await assertNothingArrives(client);
    assert.equal(failures, 1);

    await send(harness, 'unlucky', 'second');
    assert.deepEqual((await publishes(client, 2)).map(midOf), ['first', 'second']);
    assert.equal(client.isClosed, false);
    await harness.close();
  });

  test('iothub-ack full: a PUBACKed message produces a Success feedback record', async () => {
    const harness = await start();
    const id = await device(harness, 'polite');
    const { client } = await harness.connect(id);
    await subscribeC2d(client, 'polite');
    await send(harness, 'polite', 'fb1', { 'iothub-ack': 'full' });
    const publish = await client.expect('publish');
    client.send({ cmd: 'puback', messageId: publish.messageId! });
    await eventually('the queue empties', async () => (await queueLength(harness, 'polite')) === 0);

    const feedback = harness.hub.c2d.feedback;
    feedback.flush();
    let batch: FeedbackBatch | undefined;
    await eventually('a feedback batch is sealed', async () => (batch = await feedback.receive()) !== undefined);
    const { generationId } = await harness.hub.registry.getDevice('polite');
    assert.deepEqual(
      feedbackRecordsOf(batch!).map(({ enqueuedTimeUtc: _, ...rest }) => rest),
      [{ originalMessageId: 'fb1', statusCode: 'Success', description: 'Success', deviceId: 'polite', deviceGenerationId: generationId }],
    );
    await harness.close();
  });
});

describe('the devicebound topic', () => {
  function message(content: Partial<C2dMessage['content']>): C2dMessage {
    return {
      deviceId: 'd 1',
      content: { body: Buffer.alloc(0), properties: {}, applicationProperties: {}, ...content },
      ack: 'none',
      generationId: 'g',
      enqueuedTime: 0,
      expiryTime: 1,
      sequenceNumber: 1,
      deliveryCount: 1,
    };
  }

  test('an empty bag leaves the topic ending in devicebound/', () => {
    assert.equal(deviceboundTopic(message({})), 'devices/d 1/messages/devicebound/');
  });

  test('null is a bare key, numbers and booleans are text, a nameless property is left out', () => {
    assert.equal(deviceboundTopic(message({ applicationProperties: { a: null, b: 1.5, c: true, '': 'x', 'iothub-ack': 'none' } })), 'devices/d 1/messages/devicebound/iothub-ack=none&a&b=1.5&c=true');
  });

  test('is built exactly as the entry-by-entry encoding it replaced', () => {
    const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const reference = (m: C2dMessage): string => {
      const { properties: p, applicationProperties: app } = m.content;
      const expiry = p.absoluteExpiryTime === undefined || Number.isNaN(new Date(p.absoluteExpiryTime).getTime()) ? undefined : new Date(p.absoluteExpiryTime).toISOString();
      const entries: Array<[string, string | null | undefined]> = [
        ['$.mid', p.messageId], ['$.exp', expiry], ['$.to', p.to], ['$.cid', p.correlationId], ['$.uid', p.userId], ['$.ct', p.contentType], ['$.ce', p.contentEncoding],
      ];
      const text = (v: unknown) => (v === null ? null : String(v));
      if (Object.hasOwn(app, 'iothub-ack')) entries.push(['iothub-ack', text(app['iothub-ack'])]);
      for (const [k, v] of Object.entries(app)) if (k !== 'iothub-ack' && k !== '') entries.push([k, text(v)]);
      const bag = entries.filter(([, v]) => v !== undefined).map(([k, v]) => (v === null ? encode(k) : `${encode(k)}=${encode(v!)}`)).join('&');
      return `devices/${m.deviceId}/messages/devicebound/${bag}`;
    };
    const texts = ['m-1', 'a b', 'x/y', 'é', "it's (ok)*!", '~._-', '', '100%', 'a&b=c', '$x'];
    let seed = 11;
    const pick = <T>(xs: readonly T[]): T => xs[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % xs.length]!;
    for (let i = 0; i < 2000; i++) {
      const properties: C2dMessage['content']['properties'] = {};
      if (i % 2) properties.messageId = pick(texts);
      if (i % 3 === 0) properties.to = `/devices/${pick(texts)}/messages/devicebound`;
      if (i % 5 === 0) properties.correlationId = pick(texts);
      if (i % 7 === 0) properties.absoluteExpiryTime = pick([0, 1.7e12, 1e20]);
      if (i % 11 === 0) properties.contentType = 'application/json';
      const applicationProperties: C2dMessage['content']['applicationProperties'] = {};
      for (let k = 0; k < i % 4; k++) applicationProperties[pick(texts)] = pick<string | number | boolean | null>([...texts, 1.5, true, null]);
      if (i % 2 === 0) applicationProperties['iothub-ack'] = pick(['full', 'none']);
      const m = message({ properties, applicationProperties });
      assert.equal(deviceboundTopic(m), reference(m));
    }
  });

  test('an expiry a Date cannot hold is left out rather than failing the delivery', () => {
    assert.equal(deviceboundTopic(message({ properties: { messageId: 'x', absoluteExpiryTime: 1e20 } })), 'devices/d 1/messages/devicebound/%24.mid=x');
  });
});
