// Device twins over AMQP with a raw rhea client: the /devices/{id}/twin link pair (paired by channel correlation id),
// GET, reported PATCH, desired notifications on and off, the AMQP types of the answers, and authorisation.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import rhea, { type AmqpError, type Connection, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import { createSasToken } from '../../src/domain/sas.js';
import { once, openRaw, putToken } from '../support/amqp-test-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

// rhea keeps only the decoded message; the raw bytes show which AMQP type each annotation was sent as.
type Decode = (buffer: Buffer) => Message;
const messageModule = rhea.message as unknown as { decode: Decode };
const originalDecode = messageModule.decode;
const rawOf = new WeakMap<object, Buffer>();

let hub: TestHub;
const keys = new Map<string, string>();
before(async () => {
  messageModule.decode = (buffer) => {
    const message = originalDecode(buffer);
    rawOf.set(message, Buffer.from(buffer));
    return message;
  };
  hub = await startTestHub();
  for (const id of ['a-get', 'a-patch', 'a-desired', 'a-bad', 'a-early', 'a-mine', 'a-theirs', 'a-host', 'a-two']) {
    keys.set(id, (await hub.running.hub.registry.putDevice(id, {})).authentication.symmetricKey.primaryKey!);
  }
  keys.set('a-host/m1', (await hub.running.hub.registry.putModule('a-host', 'm1', {})).authentication.symmetricKey.primaryKey!);
});
after(async () => {
  messageModule.decode = originalDecode;
  await hub.close();
});

const INT = new Set([0x71, 0x54]); // int, smallint
const LONG = new Set([0x81, 0x55]); // long, smalllong
const STRING = new Set([0xa1, 0xb1]); // str8, str32

interface TypedValue {
  type: { typecode: number; name: string };
  value: unknown;
  descriptor?: { value: unknown };
}

/** The AMQP typecode of each message annotation and of the correlation id, read from the message's raw bytes. */
function wireTypes(message: Message): { annotations: Record<string, number>; correlationId?: number } {
  const raw = rawOf.get(message);
  assert.ok(raw, 'the raw bytes of the message were recorded');
  const reader = new (rhea.types as unknown as { Reader: new (b: Buffer) => { remaining(): number; read(): TypedValue } }).Reader(raw);
  const out: { annotations: Record<string, number>; correlationId?: number } = { annotations: {} };
  while (reader.remaining()) {
    const section = reader.read();
    const descriptor = Number(section.descriptor?.value);
    if (descriptor === 0x72) {
      const entries = section.value as TypedValue[];
      for (let i = 0; i < entries.length; i += 2) out.annotations[String(entries[i]!.value)] = entries[i + 1]!.type.typecode;
    }
    if (descriptor === 0x73) {
      const fields = section.value as TypedValue[];
      const correlation = fields[5];
      if (correlation && correlation.type.typecode !== 0x40) out.correlationId = correlation.type.typecode;
    }
  }
  return out;
}

const open = () => openRaw(hub.port, hub.ca);

function tokenFor(id: string): { audience: string; token: string } {
  const [deviceId, moduleId] = id.split('/');
  const audience = `localhost/devices/${deviceId}${moduleId === undefined ? '' : `/modules/${moduleId}`}`;
  return { audience, token: createSasToken({ resource: audience, keyBase64: keys.get(id)!, expiry: Date.now() / 1000 + 3600 }) };
}

async function deviceConnection(id: string): Promise<Connection> {
  const connection = await open();
  const { audience, token } = tokenFor(id);
  const reply = await putToken(connection, audience, token);
  assert.equal(reply.application_properties?.['status-code'], 200);
  return connection;
}

interface TwinLinks {
  sender: Sender;
  receiver: Receiver;
  /** Requests as the Node SDK sends them: pre-settled, correlation id a UUID string, annotation values strings. */
  request(operation: string, resource?: string, body?: string, correlationId?: string): string;
  next(ms?: number): Promise<Message>;
  arrived: Message[];
}

function twinAddress(id: string): string {
  const [deviceId, moduleId] = id.split('/');
  return `/devices/${deviceId}${moduleId === undefined ? '' : `/modules/${moduleId}`}/twin`;
}

/** The Node SDK's twin link pair: same address, same channel correlation id, receiver attached first. */
async function twinLinks(connection: Connection, id: string, options: { receiverFirst?: boolean; channel?: string } = {}): Promise<TwinLinks> {
  const address = twinAddress(id);
  const properties = { 'com.microsoft:channel-correlation-id': options.channel ?? `twin:${randomUUID()}`, 'com.microsoft:api-version': '2021-04-12' };
  const arrived: Message[] = [];
  const waiting: Array<(m: Message) => void> = [];
  const attachReceiver = () => {
    const receiver = connection.open_receiver({ source: { address }, target: { address }, properties, snd_settle_mode: 1, rcv_settle_mode: 0, autoaccept: true } as never);
    receiver.on('message', (ctx: EventContext) => {
      const w = waiting.shift();
      if (w) w(ctx.message!);
      else arrived.push(ctx.message!);
    });
    return receiver;
  };
  const receiver = attachReceiver();
  const sender = connection.open_sender({ source: { address }, target: { address }, properties, snd_settle_mode: 1, rcv_settle_mode: 0 } as never);
  await Promise.all([once(receiver, 'receiver_open'), once(sender, 'sendable')]);
  return {
    sender,
    receiver,
    arrived,
    request(operation, resource, body = ' ', correlationId = randomUUID()) {
      sender.send({
        correlation_id: correlationId,
        message_annotations: { operation, ...(resource === undefined ? {} : { resource }) },
        body: rhea.message.data_section(Buffer.from(body)),
      });
      return correlationId;
    },
    next: (ms = 5000) =>
      new Promise((resolve, reject) => {
        const ready = arrived.shift();
        if (ready) return resolve(ready);
        const timer = setTimeout(() => reject(new Error(`nothing arrived on ${address} within ${ms} ms`)), ms);
        waiting.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      }),
  };
}

function bodyJson(message: Message): unknown {
  const body = message.body as { typecode?: number; content?: Buffer } | undefined;
  assert.equal(body?.typecode, 0x75, 'a data section');
  return JSON.parse(body!.content!.toString('utf8'));
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AMQP twin', () => {
  test('GET: the same correlation id as a string, status an int 200, body {desired, reported}', async () => {
    const connection = await deviceConnection('a-get');
    const twin = await twinLinks(connection, 'a-get');
    const correlationId = twin.request('GET');
    const answer = await twin.next();
    assert.equal(answer.correlation_id, correlationId);
    assert.equal(answer.message_annotations?.status, 200);
    assert.deepEqual(bodyJson(answer), { desired: { $version: 1 }, reported: { $version: 1 } });
    const types = wireTypes(answer);
    assert.ok(STRING.has(types.correlationId!), `correlation id typecode 0x${types.correlationId?.toString(16)}`);
    assert.ok(INT.has(types.annotations.status!), `status typecode 0x${types.annotations.status?.toString(16)}`);
    if (types.annotations.version !== undefined) assert.ok(LONG.has(types.annotations.version), 'version, when sent, is a long');

    // Desired changes made by the service show up in the next GET.
    await hub.running.hub.twins.patch({ deviceId: 'a-get' }, { properties: { desired: { interval: 5 } } });
    twin.request('GET', undefined, ' ', 'not-a-uuid');
    const again = await twin.next();
    assert.equal(again.correlation_id, 'not-a-uuid');
    assert.deepEqual(bodyJson(again), { desired: { interval: 5, $version: 2 }, reported: { $version: 1 } });
    connection.close();
  });

  test('PATCH /properties/reported: status int 204, version long 2, no body; the service view shows it', async () => {
    const connection = await deviceConnection('a-patch');
    const twin = await twinLinks(connection, 'a-patch');
    const correlationId = twin.request('PATCH', '/properties/reported', '{"fw":"1.1","net":{"rssi":-60}}');
    const answer = await twin.next();
    assert.equal(answer.correlation_id, correlationId);
    assert.equal(answer.message_annotations?.status, 204);
    assert.equal(answer.message_annotations?.version, 2);
    assert.equal(answer.body, null, 'no content: the amqp-value null every AMQP message must carry at least');
    const types = wireTypes(answer);
    assert.ok(INT.has(types.annotations.status!), `status typecode 0x${types.annotations.status?.toString(16)}`);
    assert.ok(LONG.has(types.annotations.version!), `version typecode 0x${types.annotations.version?.toString(16)}`);
    assert.ok(STRING.has(types.correlationId!));

    twin.request('PATCH', '/properties/reported', '{"net":{"rssi":null},"battery":80}');
    assert.equal((await twin.next()).message_annotations?.version, 3);
    const view = await hub.running.hub.twins.get({ deviceId: 'a-patch' });
    const { $metadata: _m, ...reported } = view.properties.reported;
    assert.deepEqual(reported, { fw: '1.1', net: {}, battery: 80, $version: 3 });
    connection.close();
  });

  test('PUT /notifications/twin/properties/desired: 200, then service changes arrive without a correlation id; DELETE stops them', async () => {
    const connection = await deviceConnection('a-desired');
    const twin = await twinLinks(connection, 'a-desired');
    const put = twin.request('PUT', '/notifications/twin/properties/desired');
    const subscribed = await twin.next();
    assert.equal(subscribed.correlation_id, put);
    assert.equal(subscribed.message_annotations?.status, 200);
    assert.ok(INT.has(wireTypes(subscribed).annotations.status!));

    await hub.running.hub.twins.patch({ deviceId: 'a-desired' }, { properties: { desired: { mode: 'eco', limits: { max: 3 } } } });
    const note = await twin.next();
    assert.equal(note.correlation_id, undefined);
    assert.deepEqual(bodyJson(note), { mode: 'eco', limits: { max: 3 }, $version: 2 });
    assert.equal(note.message_annotations?.version, 2);
    assert.ok(LONG.has(wireTypes(note).annotations.version!));
    assert.equal(wireTypes(note).correlationId, undefined, 'no correlation id on the wire either');

    await hub.running.hub.twins.patch({ deviceId: 'a-desired' }, { properties: { desired: { mode: null } } });
    assert.deepEqual(bodyJson(await twin.next()), { mode: null, $version: 3 });
    await hub.running.hub.twins.patch({ deviceId: 'a-desired' }, { tags: { t: 1 } });
    await delay(150);
    assert.deepEqual(twin.arrived, [], 'tags changes are not announced');

    const del = twin.request('DELETE', '/notifications/twin/properties/desired');
    const unsubscribed = await twin.next();
    assert.equal(unsubscribed.correlation_id, del);
    assert.equal(unsubscribed.message_annotations?.status, 200);
    await hub.running.hub.twins.patch({ deviceId: 'a-desired' }, { properties: { desired: { mode: 'off' } } });
    await delay(150);
    assert.deepEqual(twin.arrived, [], 'no notification after DELETE');

    // The channel still serves requests.
    twin.request('GET');
    assert.deepEqual(bodyJson(await twin.next()), { desired: { limits: { max: 3 }, mode: 'off', $version: 4 }, reported: { $version: 1 } });
    connection.close();
  });

  test('bad requests are answered with status 400 and a JSON error body; the links stay up', async () => {
    const connection = await deviceConnection('a-bad');
    const twin = await twinLinks(connection, 'a-bad');
    const cases: Array<[string, string | undefined, string]> = [
      ['PATCH', '/properties/reported', '{"fw": '],
      ['PATCH', '/properties/reported', '{"a.b": 1}'],
      ['PATCH', '/properties/reported', '[1]'],
      ['PATCH', '/properties/desired', '{"a": 1}'],
      ['POST', undefined, ' '],
      ['PUT', '/properties/reported', ' '],
    ];
    for (const [operation, resource, body] of cases) {
      const correlationId = twin.request(operation, resource, body);
      const answer = await twin.next();
      const what = `${operation} ${resource} ${body}`;
      assert.equal(answer.correlation_id, correlationId, what);
      assert.equal(answer.message_annotations?.status, 400, what);
      assert.ok(INT.has(wireTypes(answer).annotations.status!), what);
      const error = bodyJson(answer) as { errorCode: unknown; message: unknown };
      assert.equal(error.errorCode, 400004, what);
      assert.equal(typeof error.message, 'string', what);
    }
    assert.equal((await hub.running.hub.twins.get({ deviceId: 'a-bad' })).version, 1, 'nothing was written');
    twin.request('PATCH', '/properties/reported', '{"ok":true}');
    assert.equal((await twin.next()).message_annotations?.status, 204);
    connection.close();
  });

  test('answers made before the receiver link attaches are sent once it does', async () => {
    const connection = await deviceConnection('a-early');
    const address = twinAddress('a-early');
    const properties = { 'com.microsoft:channel-correlation-id': `twin:${randomUUID()}` };
    const sender = connection.open_sender({ target: { address }, properties, snd_settle_mode: 1 } as never);
    await once(sender, 'sendable');
    sender.send({ correlation_id: 'early', message_annotations: { operation: 'GET' }, body: rhea.message.data_section(Buffer.from(' ')) });
    await delay(100);
    const receiver = connection.open_receiver({ source: { address }, properties, autoaccept: true } as never);
    const { message } = await once(receiver, 'message');
    assert.equal(message?.correlation_id, 'early');
    assert.equal(message?.message_annotations?.status, 200);
    connection.close();
  });

  test('two channels of one device each get their own answers', async () => {
    const connection = await deviceConnection('a-two');
    const first = await twinLinks(connection, 'a-two');
    const second = await twinLinks(connection, 'a-two');
    const a = first.request('GET');
    const b = second.request('PATCH', '/properties/reported', '{"x":1}');
    assert.equal((await first.next()).correlation_id, a);
    assert.equal((await second.next()).correlation_id, b);
    await delay(100);
    assert.deepEqual([first.arrived, second.arrived], [[], []]);
    connection.close();
  });

  test('a module has its own twin on /devices/{id}/modules/{mid}/twin', async () => {
    await hub.running.hub.twins.patch({ deviceId: 'a-host', moduleId: 'm1' }, { properties: { desired: { forModule: true } } });
    const connection = await deviceConnection('a-host/m1');
    const twin = await twinLinks(connection, 'a-host/m1');
    twin.request('GET');
    assert.deepEqual(bodyJson(await twin.next()), { desired: { forModule: true, $version: 2 }, reported: { $version: 1 } });
    twin.request('PATCH', '/properties/reported', '{"m":1}');
    assert.equal((await twin.next()).message_annotations?.version, 2);
    assert.equal((await hub.running.hub.twins.get({ deviceId: 'a-host', moduleId: 'm1' })).properties.reported.m, 1);
    assert.equal((await hub.running.hub.twins.get({ deviceId: 'a-host' })).properties.reported.m, undefined);
    connection.close();
  });

  test("another device's twin address is refused with amqp:unauthorized-access, both directions", async () => {
    const connection = await deviceConnection('a-mine');
    const address = twinAddress('a-theirs');
    const properties = { 'com.microsoft:channel-correlation-id': `twin:${randomUUID()}` };
    const receiver = connection.open_receiver({ source: { address }, properties } as never);
    await once(receiver, 'receiver_error');
    assert.equal((receiver.error as AmqpError).condition, 'amqp:unauthorized-access');
    const sender = connection.open_sender({ target: { address }, properties } as never);
    await once(sender, 'sender_error');
    assert.equal((sender.error as AmqpError).condition, 'amqp:unauthorized-access');
    // A module's twin is not the device's either.
    const moduleTwin = connection.open_receiver({ source: { address: twinAddress('a-mine/m9') }, properties } as never);
    await once(moduleTwin, 'receiver_error');
    assert.equal((moduleTwin.error as AmqpError).condition, 'amqp:unauthorized-access');
    // The device's own twin still opens on the same connection.
    const own = await twinLinks(connection, 'a-mine');
    own.request('GET');
    assert.equal((await own.next()).message_annotations?.status, 200);
    connection.close();
  });

  test('without a token the twin links are refused', async () => {
    const connection = await open();
    const receiver = connection.open_receiver({ source: { address: twinAddress('a-mine') } });
    await once(receiver, 'receiver_error');
    assert.equal((receiver.error as AmqpError).condition, 'amqp:unauthorized-access');
    connection.close();
  });
});
