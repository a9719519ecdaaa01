// Direct methods end to end on an in-process hub: calls over the service REST API, answered by raw MQTT and raw
// AMQP devices. The wire forms (topics, $rid, AMQP properties), payload round trips, the connect and response
// timeouts, and the errors a back end sees.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import rhea, { type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import { createSasToken } from '../../src/domain/sas.js';
import { once, openRaw, putToken } from '../support/amqp-test-client.js';
import { rawRequest, type RawResponse } from '../support/https-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';
import { connectIdentity, createDevice, createModule, deviceToken, freshId, hostOf, type MqttTestClient, type TestIdentity } from './mqtt-test-client.js';

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

const METHODS_FILTER = '$iothub/methods/POST/#';
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Target {
  deviceId: string;
  moduleId?: string;
}

function methodsPath(target: Target): string {
  const device = `/twins/${encodeURIComponent(target.deviceId)}`;
  return `${target.moduleId === undefined ? device : `${device}/modules/${encodeURIComponent(target.moduleId)}`}/methods?api-version=2021-04-12`;
}

/** POST /twins/{id}/methods as azure-iothub sends it. */
function invoke(target: Target, body: unknown, authorization = hub.serviceToken('service')): Promise<RawResponse> {
  return rawRequest({
    port: hub.port,
    ca: hub.ca,
    method: 'POST',
    path: methodsPath(target),
    headers: { authorization, 'content-type': 'application/json; charset=utf-8' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function call(target: Target, methodName: string, payload: unknown = null, extra: Record<string, unknown> = {}): Promise<RawResponse> {
  return invoke(target, { methodName, payload, responseTimeoutInSeconds: 30, connectTimeoutInSeconds: 0, ...extra });
}

function assertHubError(response: RawResponse, status: number, errorCode: string, what = ''): void {
  assert.equal(response.status, status, `${what} ${response.text}`);
  assert.equal(response.headers['iothub-errorcode'], errorCode, `${what} ${response.text}`);
  assert.match(response.json().Message, new RegExp(`^ErrorCode:${errorCode};`));
}

// ---- MQTT devices ----

async function mqttDevice(id: TestIdentity, options: { subscribe?: boolean; clean?: boolean } = {}): Promise<MqttTestClient> {
  const { client, connack } = await connectIdentity(hub, id, { clean: options.clean ?? true });
  assert.equal(connack.returnCode, 0);
  if (options.subscribe ?? true) {
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: METHODS_FILTER, qos: 0 }] });
    assert.deepEqual((await client.expect('suback')).granted, [0]);
  }
  return client;
}

interface ReceivedCall {
  methodName: string;
  rid: string;
  payload: string;
  publish: IPublishPacket;
}

async function nextCall(client: MqttTestClient): Promise<ReceivedCall> {
  const publish = await client.expect('publish');
  const match = /^\$iothub\/methods\/POST\/([^/]+)\/\?\$rid=(.+)$/.exec(publish.topic);
  assert.ok(match, `a method request topic, not ${publish.topic}`);
  return { methodName: match[1]!, rid: match[2]!, payload: publish.payload.toString(), publish };
}

function answer(client: MqttTestClient, rid: string, status: number | string, body: string | Buffer = '', qos: 0 | 1 = 0): void {
  const topic = `$iothub/methods/res/${status}/?$rid=${rid}`;
  if (qos === 1) client.send({ cmd: 'publish', topic, payload: body, qos: 1, messageId: 77, dup: false, retain: false });
  else client.send({ cmd: 'publish', topic, payload: body, qos: 0, dup: false, retain: false });
}

describe('direct methods to MQTT devices', () => {
  test('the request goes out as $iothub/methods/POST/{name}/?$rid={rid} at QoS 0; status and payload come back', async () => {
    const id = await createDevice(hub, freshId('m-basic'));
    const client = await mqttDevice(id);
    const pending = call(id, 'reboot', { delay: 5 });
    const received = await nextCall(client);
    assert.equal(received.methodName, 'reboot');
    assert.equal(received.payload, '{"delay":5}');
    assert.deepEqual([received.publish.qos, received.publish.retain, received.publish.dup], [0, false, false]);
    answer(client, received.rid, 201, '{"ok":true}');
    const response = await pending;
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.deepEqual(response.json(), { status: 201, payload: { ok: true } });
    client.destroy();
  });

  test('payloads of every JSON kind go both ways unchanged; an empty answer is a null payload', async () => {
    const id = await createDevice(hub, freshId('m-payloads'));
    const client = await mqttDevice(id);
    for (const payload of [{ nested: { a: [1, 'two', null] } }, 'just text', 42.5, null, [], true]) {
      const pending = call(id, 'echo', payload);
      const received = await nextCall(client);
      assert.deepEqual(JSON.parse(received.payload), payload);
      answer(client, received.rid, 200, received.payload);
      assert.deepEqual((await pending).json(), { status: 200, payload });
    }
    const pending = call(id, 'silent');
    const received = await nextCall(client);
    assert.equal(received.payload, 'null', 'no payload is sent as JSON null, as the Node SDK sends it');
    answer(client, received.rid, 404);
    assert.deepEqual((await pending).json(), { status: 404, payload: null }, 'the HTTP status is 200 whatever the device answered');
    client.destroy();
  });

  test('a payload missing from the body is null; the device status may be any integer', async () => {
    const id = await createDevice(hub, freshId('m-status'));
    const client = await mqttDevice(id);
    const pending = invoke(id, { methodName: 'noPayload' });
    const received = await nextCall(client);
    assert.equal(received.payload, 'null');
    answer(client, received.rid, -1, '"odd"');
    assert.deepEqual((await pending).json(), { status: -1, payload: 'odd' });
    client.destroy();
  });

  test('concurrent calls get distinct request ids and each answer reaches its own caller, in any order', async () => {
    const id = await createDevice(hub, freshId('m-concurrent'));
    const client = await mqttDevice(id);
    const pending = [call(id, 'a', 1), call(id, 'b', 2), call(id, 'c', 3)];
    const received = [await nextCall(client), await nextCall(client), await nextCall(client)];
    assert.equal(new Set(received.map((r) => r.rid)).size, 3);
    for (const r of [...received].reverse()) answer(client, r.rid, 200, JSON.stringify({ name: r.methodName, got: JSON.parse(r.payload) }));
    const results = await Promise.all(pending);
    assert.deepEqual(
      results.map((r) => r.json().payload),
      [
        { name: 'a', got: 1 },
        { name: 'b', got: 2 },
        { name: 'c', got: 3 },
      ],
    );
    client.destroy();
  });

  test('an answer for a $rid never sent, or answered already, is ignored; the connection and later calls carry on', async () => {
    const id = await createDevice(hub, freshId('m-stray'));
    const client = await mqttDevice(id);
    answer(client, '999', 200, '{"stray":true}');
    answer(client, 'not-a-number', 200);
    const pending = call(id, 'real');
    const received = await nextCall(client);
    answer(client, received.rid, 200, '{"first":true}');
    answer(client, received.rid, 500, '{"second":true}');
    assert.deepEqual((await pending).json(), { status: 200, payload: { first: true } });
    client.send({ cmd: 'pingreq' });
    await client.expect('pingresp');
    assert.equal(client.isClosed, false);
    client.destroy();
  });

  test('a QoS 1 answer is acknowledged; percent-encoded status and $rid (as Python sends them) are read', async () => {
    const id = await createDevice(hub, freshId('m-qos1'));
    const client = await mqttDevice(id);
    const pending = call(id, 'q');
    const received = await nextCall(client);
    answer(client, encodeURIComponent(received.rid), '%32%30%30', '{}', 1);
    assert.equal((await client.expect('puback')).messageId, 77);
    assert.deepEqual((await pending).json(), { status: 200, payload: {} });
    client.destroy();
  });

  test('an answer topic without a status or $rid closes the connection, like any topic the hub does not serve', async () => {
    const id = await createDevice(hub, freshId('m-malformed'));
    const client = await mqttDevice(id);
    client.send({ cmd: 'publish', topic: '$iothub/methods/res/ok/?$rid=1', payload: '', qos: 0, dup: false, retain: false });
    await client.expectClosed();
  });

  test('a device whose answer is not JSON: its bytes are passed on as they are', async () => {
    const id = await createDevice(hub, freshId('m-notjson'));
    const client = await mqttDevice(id);
    const pending = call(id, 'raw');
    answer(client, (await nextCall(client)).rid, 200, "{'single': 'quotes'}");
    assert.equal((await pending).text, `{"status":200,"payload":{'single': 'quotes'}}`);
    client.destroy();
  });

  test('a module connected over MQTT answers calls on /twins/{id}/modules/{mid}/methods', async () => {
    const deviceId = freshId('m-module');
    await createDevice(hub, deviceId);
    const mod = await createModule(hub, deviceId, 'edgeModule');
    const client = await mqttDevice(mod);
    const pending = call(mod, 'ping', { n: 1 });
    const received = await nextCall(client);
    answer(client, received.rid, 200, '{"pong":1}');
    assert.deepEqual((await pending).json(), { status: 200, payload: { pong: 1 } });
    assertHubError(await call({ deviceId }, 'ping'), 404, 'DeviceNotOnline');
    client.destroy();
  });

  test('a connected device without the methods subscription is not online for methods; UNSUBSCRIBE stops serving', async () => {
    const id = await createDevice(hub, freshId('m-unsub'));
    const client = await mqttDevice(id, { subscribe: false });
    assertHubError(await call(id, 'x'), 404, 'DeviceNotOnline');
    client.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: METHODS_FILTER, qos: 0 }] });
    await client.expect('suback');
    const pending = call(id, 'x');
    answer(client, (await nextCall(client)).rid, 200);
    assert.equal((await pending).json().status, 200);
    client.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: [METHODS_FILTER] });
    await client.expect('unsuback');
    assertHubError(await call(id, 'x'), 404, 'DeviceNotOnline');
    client.destroy();
  });

  test('a persistent session keeps serving methods after a reconnect that sends no SUBSCRIBE', async () => {
    const id = await createDevice(hub, freshId('m-session'));
    const first = await mqttDevice(id, { clean: false });
    first.send({ cmd: 'disconnect' });
    await first.expectClosed();
    const second = await mqttDevice(id, { clean: false, subscribe: false });
    const pending = call(id, 'resumed');
    answer(second, (await nextCall(second)).rid, 200, '"yes"');
    assert.deepEqual((await pending).json(), { status: 200, payload: 'yes' });
    second.destroy();
  });

  test("a newer connection takes over the device's calls", async () => {
    const id = await createDevice(hub, freshId('m-takeover'));
    const older = await mqttDevice(id);
    const newer = await mqttDevice(id);
    await older.expectClosed();
    const pending = call(id, 'who');
    answer(newer, (await nextCall(newer)).rid, 200, '"newer"');
    assert.deepEqual((await pending).json(), { status: 200, payload: 'newer' });
    newer.destroy();
  });

  test('a device that disconnects with a call unanswered fails the call at once with 504', async () => {
    const id = await createDevice(hub, freshId('m-drop'));
    const client = await mqttDevice(id);
    const started = Date.now();
    const pending = call(id, 'never');
    await nextCall(client);
    client.destroy();
    assertHubError(await pending, 504, 'GatewayTimeout');
    assert.ok(Date.now() - started < 3000, 'not after the response timeout');
  });
});

describe('direct method timeouts and errors', () => {
  test('a device not connected: 404 DeviceNotOnline at once with connectTimeoutInSeconds 0', async () => {
    const id = await createDevice(hub, freshId('t-offline'));
    const started = Date.now();
    const response = await call(id, 'x');
    assertHubError(response, 404, 'DeviceNotOnline');
    assert.match(response.json().Message, /Timed out waiting for device to connect/);
    assert.ok(Date.now() - started < 1000);
  });

  test('a device that connects within connectTimeoutInSeconds gets the call', async () => {
    const id = await createDevice(hub, freshId('t-late'));
    const started = Date.now();
    const pending = call(id, 'wakeUp', { hello: 1 }, { connectTimeoutInSeconds: 5 });
    await delay(700);
    const client = await mqttDevice(id);
    const received = await nextCall(client);
    assert.deepEqual(JSON.parse(received.payload), { hello: 1 });
    answer(client, received.rid, 200, '"awake"');
    assert.deepEqual((await pending).json(), { status: 200, payload: 'awake' });
    assert.ok(Date.now() - started < 3000, 'served as soon as the device subscribed');
    client.destroy();
  });

  test('a device that does not connect within connectTimeoutInSeconds: 404 DeviceNotOnline after it', async () => {
    const id = await createDevice(hub, freshId('t-late-never'));
    const started = Date.now();
    assertHubError(await call(id, 'x', null, { connectTimeoutInSeconds: 1 }), 404, 'DeviceNotOnline');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1000 && elapsed < 2500, `${elapsed} ms`);
  });

  test('a device that does not answer: 504 GatewayTimeout after responseTimeoutInSeconds', async () => {
    const id = await createDevice(hub, freshId('t-silent'));
    const client = await mqttDevice(id);
    const started = Date.now();
    const pending = call(id, 'slow', null, { responseTimeoutInSeconds: 5 });
    const received = await nextCall(client);
    const response = await pending;
    const elapsed = Date.now() - started;
    assertHubError(response, 504, 'GatewayTimeout');
    assert.ok(elapsed >= 5000 && elapsed < 6500, `${elapsed} ms`);
    answer(client, received.rid, 200, '"too late"');
    client.send({ cmd: 'pingreq' });
    await client.expect('pingresp');
    client.destroy();
  });

  test('an unknown device: 404 DeviceNotFound; an unknown module: 404 ModuleNotFound', async () => {
    assertHubError(await call({ deviceId: 'no-such-device' }, 'x'), 404, 'DeviceNotFound');
    assertHubError(await call({ deviceId: 'no-such-device', moduleId: 'm' }, 'x'), 404, 'DeviceNotFound');
    const id = await createDevice(hub, freshId('t-nomodule'));
    assertHubError(await call({ deviceId: id.deviceId, moduleId: 'no-such-module' }, 'x'), 404, 'ModuleNotFound');
  });

  test('bodies Azure refuses: 400 ArgumentInvalid (IotHubFormatError for broken JSON, 413 above 128 KiB)', async () => {
    const id = await createDevice(hub, freshId('t-bad'));
    const client = await mqttDevice(id);
    const invalid: unknown[] = [
      [],
      '"a JSON string"',
      {},
      { methodName: '' },
      { methodName: 42 },
      { methodName: 'with space' },
      { methodName: 'a/b' },
      { methodName: 'a?b' },
      { methodName: 'x'.repeat(1025) },
      { methodName: 'ok', responseTimeoutInSeconds: 4 },
      { methodName: 'ok', responseTimeoutInSeconds: 301 },
      { methodName: 'ok', responseTimeoutInSeconds: 7.5 },
      { methodName: 'ok', responseTimeoutInSeconds: '30' },
      { methodName: 'ok', connectTimeoutInSeconds: -1 },
      { methodName: 'ok', connectTimeoutInSeconds: 301 },
    ];
    for (const body of invalid) assertHubError(await invoke(id, body), 400, 'ArgumentInvalid', JSON.stringify(body).slice(0, 80));
    assertHubError(await invoke(id, '{"methodName":'), 400, 'IotHubFormatError');
    assertHubError(await invoke(id, { methodName: 'big', payload: 'x'.repeat(128 * 1024) }), 413, 'MessageTooLarge');
    assert.deepEqual(client.unread, [], 'the device got none of them');
    client.destroy();
  });

  test("the service API refuses a device's token (401) and a policy without ServiceConnect", async () => {
    const id = await createDevice(hub, freshId('t-auth'));
    const client = await mqttDevice(id);
    assertHubError(await invoke(id, { methodName: 'x' }, deviceToken(hostOf(hub), id)), 401, 'IotHubUnauthorizedAccess');
    assertHubError(await invoke(id, { methodName: 'x' }, hub.serviceToken('registryRead')), 401, 'IotHubUnauthorizedAccess');
    assert.deepEqual(client.unread, []);
    client.destroy();
  });
});

// ---- AMQP devices ----

const keys = new Map<string, string>();

async function amqpIdentity(deviceId: string, moduleId?: string): Promise<Target> {
  const view = moduleId === undefined ? await hub.running.hub.registry.putDevice(deviceId, {}) : await hub.running.hub.registry.putModule(deviceId, moduleId, {});
  const target = moduleId === undefined ? { deviceId } : { deviceId, moduleId };
  keys.set(resourceOf(target), view.authentication.symmetricKey.primaryKey!);
  return target;
}

function resourceOf(target: Target): string {
  return target.moduleId === undefined ? `devices/${target.deviceId}` : `devices/${target.deviceId}/modules/${target.moduleId}`;
}

async function amqpDeviceConnection(target: Target): Promise<Connection> {
  const connection = await openRaw(hub.port, hub.ca);
  const resource = `localhost/${resourceOf(target)}`;
  const token = createSasToken({ resource, keyBase64: keys.get(resourceOf(target))!, expiry: Date.now() / 1000 + 3600 });
  const reply = await putToken(connection, resource, token);
  assert.equal(reply.application_properties?.['status-code'], 200);
  return connection;
}

interface AmqpMethodDevice {
  sender: Sender;
  receiver: Receiver;
  next(ms?: number): Promise<Message>;
  answer(request: Message, status: unknown, body?: string, correlationId?: unknown): Promise<string | undefined>;
}

/** The link pair as the Node SDK attaches it: sender first, then receiver, one channel correlation id. */
async function attachMethodLinks(connection: Connection, target: Target): Promise<AmqpMethodDevice> {
  const address = `/${resourceOf(target)}/methods/devicebound`;
  const properties = { 'com.microsoft:api-version': '2021-04-12', 'com.microsoft:channel-correlation-id': `methods:${randomUUID()}` };
  const sender = connection.open_sender({ target: { address }, properties, rcv_settle_mode: 0 } as never);
  await once(sender, 'sendable');
  const receiver = connection.open_receiver({ source: { address }, properties, rcv_settle_mode: 0, autoaccept: true } as never);
  await once(receiver, 'receiver_open');
  const arrived: Message[] = [];
  const waiting: Array<(m: Message) => void> = [];
  receiver.on('message', (ctx: EventContext) => {
    const w = waiting.shift();
    if (w) w(ctx.message!);
    else arrived.push(ctx.message!);
  });
  // The hub serves once it has seen both links confirmed and the receiver's credit.
  await delay(100);
  return {
    sender,
    receiver,
    next: (ms = 5000) =>
      new Promise((resolve, reject) => {
        const ready = arrived.shift();
        if (ready) return resolve(ready);
        const timer = setTimeout(() => reject(new Error(`no method request within ${ms} ms`)), ms);
        waiting.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      }),
    answer(request, status, body, correlationId = request.correlation_id) {
      const message = { correlation_id: correlationId, application_properties: { 'IoThub-status': status } } as unknown as Message;
      if (body !== undefined) message.body = rhea.message.data_section(Buffer.from(body));
      const delivery = sender.send(message);
      return outcomeOf(sender, delivery);
    },
  };
}

function outcomeOf(sender: Sender, delivery: Delivery): Promise<string | undefined> {
  return new Promise((resolve) => {
    const onSettled = (ctx: EventContext) => {
      if (ctx.delivery !== delivery) return;
      sender.removeListener('accepted', onSettled);
      sender.removeListener('rejected', onSettled);
      const state = delivery.remote_state as { constructor: { composite_type?: string } } | undefined;
      resolve(state?.constructor.composite_type);
    };
    sender.on('accepted', onSettled);
    sender.on('rejected', onSettled);
  });
}

const bodyText = (m: Message) => (m.body as { typecode: number; content: Buffer }).content.toString();

describe('direct methods to AMQP devices', () => {
  test('a call arrives with a uuid correlation id, IoThub-methodname and a data section; the answer is accepted and returned', async () => {
    const target = await amqpIdentity(freshId('a-basic'));
    const connection = await amqpDeviceConnection(target);
    const device = await attachMethodLinks(connection, target);
    const pending = call(target, 'reboot', { delay: 5 });
    const request = await device.next();
    assert.ok(Buffer.isBuffer(request.correlation_id) && request.correlation_id.length === 16, 'a uuid');
    assert.deepEqual(request.application_properties, { 'IoThub-methodname': 'reboot' });
    assert.equal((request.body as { typecode: number }).typecode, 0x75, 'a data section');
    assert.equal(bodyText(request), '{"delay":5}');
    assert.equal(await device.answer(request, 200, '{"rebooting":true}'), 'accepted');
    assert.deepEqual((await pending).json(), { status: 200, payload: { rebooting: true } });
    connection.close();
  });

  test('payloads of every JSON kind round-trip; the Node SDK forms of the answer (uuid string, no body) are read', async () => {
    const target = await amqpIdentity(freshId('a-payloads'));
    const connection = await amqpDeviceConnection(target);
    const device = await attachMethodLinks(connection, target);
    for (const payload of [{ a: [1, { b: null }] }, 'text', 7, null]) {
      const pending = call(target, 'echo', payload);
      const request = await device.next();
      assert.deepEqual(JSON.parse(bodyText(request)), payload);
      await device.answer(request, 200, bodyText(request));
      assert.deepEqual((await pending).json(), { status: 200, payload });
    }
    const pending = call(target, 'upper');
    const request = await device.next();
    const asString = rhea.uuid_to_string(request.correlation_id as unknown as Buffer).toUpperCase();
    assert.equal(await device.answer(request, 503, undefined, asString), 'accepted');
    assert.deepEqual((await pending).json(), { status: 503, payload: null });
    connection.close();
  });

  test('an answer to no call waiting is accepted and ignored; one without status or correlation id is rejected', async () => {
    const target = await amqpIdentity(freshId('a-stray'));
    const connection = await amqpDeviceConnection(target);
    const device = await attachMethodLinks(connection, target);
    const stray = { correlation_id: rhea.string_to_uuid(randomUUID()) } as unknown as Message;
    assert.equal(await device.answer(stray, 200, '{}'), 'accepted');
    const pending = call(target, 'real');
    const request = await device.next();
    assert.equal(await device.answer(request, 'not a number', '{}'), 'rejected');
    assert.equal(await device.answer({} as Message, 200, '{}', 'not-a-request'), 'accepted');
    assert.equal(await device.answer(request, 200, '"ok"'), 'accepted');
    assert.deepEqual((await pending).json(), { status: 200, payload: 'ok' });
    connection.close();
  });

  test('a module answers over AMQP', async () => {
    const deviceId = freshId('a-module');
    await amqpIdentity(deviceId);
    const target = await amqpIdentity(deviceId, 'mod');
    const connection = await amqpDeviceConnection(target);
    const device = await attachMethodLinks(connection, target);
    const pending = call(target, 'ping');
    const request = await device.next();
    await device.answer(request, 200, '"pong"');
    assert.deepEqual((await pending).json(), { status: 200, payload: 'pong' });
    assertHubError(await call({ deviceId }, 'ping'), 404, 'DeviceNotOnline');
    connection.close();
  });

  test('a device connecting within connectTimeoutInSeconds over AMQP gets the call', async () => {
    const target = await amqpIdentity(freshId('a-late'));
    const pending = call(target, 'late', null, { connectTimeoutInSeconds: 5 });
    await delay(500);
    const connection = await amqpDeviceConnection(target);
    const device = await attachMethodLinks(connection, target);
    await device.answer(await device.next(), 200, '1');
    assert.deepEqual((await pending).json(), { status: 200, payload: 1 });
    connection.close();
  });

  test('detaching the method links ends serving: unanswered calls fail with 504 at once, new ones find the device offline', async () => {
    const target = await amqpIdentity(freshId('a-detach'));
    const connection = await amqpDeviceConnection(target);
    const device = await attachMethodLinks(connection, target);
    const started = Date.now();
    const pending = call(target, 'never');
    await device.next();
    device.receiver.close();
    await once(device.receiver, 'receiver_close');
    assertHubError(await pending, 504, 'GatewayTimeout');
    assert.ok(Date.now() - started < 3000);
    assertHubError(await call(target, 'again'), 404, 'DeviceNotOnline');
    connection.close();
  });

  test("a link pair for a device the connection's token does not cover is refused", async () => {
    const mine = await amqpIdentity(freshId('a-mine'));
    const theirs = await amqpIdentity(freshId('a-theirs'));
    const connection = await amqpDeviceConnection(mine);
    const receiver = connection.open_receiver({ source: { address: `/devices/${theirs.deviceId}/methods/devicebound` } });
    const closed = await once(receiver, 'receiver_close');
    assert.equal((closed.receiver?.error as { condition?: string } | undefined)?.condition, 'amqp:unauthorized-access');
    assertHubError(await call(theirs, 'x'), 404, 'DeviceNotOnline');
    connection.close();
  });
});
