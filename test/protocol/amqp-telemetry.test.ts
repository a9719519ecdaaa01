// Device-to-cloud telemetry over AMQP with a raw rhea client: per-link authorisation, multiplexing, acceptance only
// once durable, size limits, batches, and input the SDKs never send.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import rhea, { type AmqpError, type Connection, type Delivery, type EventContext, type Message, type Sender } from 'rhea';
import { decodeMessage } from '../../src/domain/message-codec.js';
import type { HubMessage } from '../../src/domain/message.js';
import { partitionOf } from '../../src/domain/partitioning.js';
import { createSasToken } from '../../src/domain/sas.js';
import type { LogAppend, LogEvent } from '../../src/ports/telemetry-log.js';
import { once, openRaw, putToken } from '../support/amqp-test-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

let hub: TestHub;
const keys = new Map<string, string>();
before(async () => {
  hub = await startTestHub();
  for (const id of ['t1', 't2', 't3', 'gw-a', 'gw-b', 'gw-c', 'other', 'size', 'batch', 'slow', 'off']) {
    const view = await hub.running.hub.registry.putDevice(id, {});
    keys.set(id, view.authentication.symmetricKey.primaryKey!);
  }
});
after(async () => hub.close());

// --- a raw rhea client ---------------------------------------------------------------------------------------

function deviceToken(deviceId: string, expiry = Date.now() / 1000 + 3600): string {
  return createSasToken({ resource: `localhost/devices/${deviceId}`, keyBase64: keys.get(deviceId)!, expiry });
}

const open = () => openRaw(hub.port, hub.ca);

async function authorise(connection: Connection, deviceId: string): Promise<void> {
  const reply = await putToken(connection, `localhost/devices/${deviceId}`, deviceToken(deviceId));
  assert.equal(reply.application_properties?.['status-code'], 200);
}

/** Resolves with the opened sender, or with the error the hub detached it with. */
async function attachSender(connection: Connection, address: string): Promise<{ sender: Sender; error?: AmqpError }> {
  const sender = connection.open_sender({ target: { address } });
  return new Promise((resolve) => {
    sender.once('sendable', () => resolve({ sender }));
    sender.once('sender_error', (ctx: EventContext) => resolve({ sender, error: ctx.sender!.error as AmqpError }));
  });
}

type Outcome = { accepted: true } | { accepted: false; error?: AmqpError };

function send(sender: Sender, message: Message | Buffer, format?: number): Promise<Outcome> {
  const delivery = format === undefined ? sender.send(message as Message) : sender.send(message as Buffer, undefined, format);
  return settled(sender, delivery);
}

function settled(sender: Sender, delivery: Delivery): Promise<Outcome> {
  return new Promise((resolve) => {
    const onSettled = (ctx: EventContext) => {
      if (ctx.delivery !== delivery) return;
      sender.removeListener('settled', onSettled);
      const state = delivery.remote_state as { error?: AmqpError; constructor: { composite_type?: string } } | undefined;
      resolve(state?.constructor.composite_type === 'accepted' ? { accepted: true } : { accepted: false, ...(state?.error ? { error: state.error } : {}) });
    };
    sender.on('settled', onSettled);
  });
}

async function stored(deviceId: string): Promise<HubMessage[]> {
  const log = hub.running.telemetryLog;
  const events = await log.read(partitionOf(deviceId, log.partitionCount), 0, 100_000);
  return events.map((e) => decodeMessage(e.payload)).filter((m) => m.annotations['iothub-connection-device-id'] === deviceId);
}

/** rhea leaves a null terminus of a received attach as a Typed null. */
function isNullTerminus(terminus: unknown): boolean {
  return terminus === null || terminus === undefined || (terminus as { value?: unknown }).value === null;
}

const events = (id: string) => `/devices/${id}/messages/events`;

// --- tests -----------------------------------------------------------------------------------------------------

describe('AMQP device-to-cloud telemetry', () => {
  test('a telemetry link echoes source and target and announces the 256 KiB message size', async () => {
    const connection = await open();
    await authorise(connection, 't1');
    const { sender, error } = await attachSender(connection, events('t1'));
    assert.equal(error, undefined);
    assert.equal(sender.target.address, events('t1'));
    assert.notEqual(sender.source, null);
    assert.equal(sender.max_message_size, 262144);
    connection.close();
  });

  test('properties, application properties and kept annotations are stored as sent', async () => {
    const connection = await open();
    await authorise(connection, 't1');
    const { sender } = await attachSender(connection, events('t1'));
    const messageId = randomUUID();
    const outcome = await send(sender, {
      body: rhea.message.data_section(Buffer.from('{"t":21.5}')),
      message_id: rhea.types.wrap_uuid(rhea.string_to_uuid(messageId)) as never,
      correlation_id: 'corr-1',
      content_type: 'application/json',
      content_encoding: 'utf-8',
      absolute_expiry_time: new Date(Date.UTC(2030, 0, 1)) as never,
      application_properties: { alert: 'high', count: 3, 'iothub-outputname': 'out1' },
      message_annotations: { 'dt-subject': 'thermostat1', 'iothub-connection-device-id': 'spoofed' },
    });
    assert.deepEqual(outcome, { accepted: true });
    const m = (await stored('t1')).find((x) => x.properties.messageId === messageId);
    assert.ok(m, 'the message is in the log');
    assert.equal(m.body.toString(), '{"t":21.5}');
    assert.deepEqual(m.properties, {
      messageId, correlationId: 'corr-1', contentType: 'application/json', contentEncoding: 'utf-8',
      absoluteExpiryTime: Date.UTC(2030, 0, 1),
    });
    assert.deepEqual(m.applicationProperties, { alert: 'high', count: 3, 'iothub-outputname': 'out1' });
    assert.equal(m.annotations['dt-subject'], 'thermostat1');
    assert.equal(m.annotations['iothub-connection-device-id'], 't1');
    assert.equal(m.annotations['iothub-message-source'], 'Telemetry');
    connection.close();
  });

  test('an amqp-value body of a string or binary is accepted too', async () => {
    const connection = await open();
    await authorise(connection, 't2');
    const { sender } = await attachSender(connection, `amqps://LOCALHOST:${hub.port}/Devices/t2/Messages/Events`);
    assert.deepEqual(await send(sender, { body: 'as text', message_id: 'v1' }), { accepted: true });
    assert.deepEqual(await send(sender, { body: Buffer.from('as binary'), message_id: 'v2' }), { accepted: true });
    const bodies = (await stored('t2')).filter((m) => m.properties.messageId?.startsWith('v')).map((m) => m.body.toString());
    assert.deepEqual(bodies, ['as text', 'as binary']);
    connection.close();
  });

  test('a telemetry link without a token is refused with amqp:unauthorized-access and a null target', async () => {
    const connection = await open();
    const { sender, error } = await attachSender(connection, events('t1'));
    assert.equal(error?.condition, 'amqp:unauthorized-access');
    assert.ok(isNullTerminus(sender.target), 'the attach reply refuses the link with a null target');
    connection.close();
  });

  test("a token for one device does not open another device's link", async () => {
    const connection = await open();
    await authorise(connection, 't1');
    const { error } = await attachSender(connection, events('other'));
    assert.equal(error?.condition, 'amqp:unauthorized-access');
    const { error: ok } = await attachSender(connection, events('t1'));
    assert.equal(ok, undefined, 'the connection keeps serving the authorised device');
    connection.close();
  });

  test('three devices multiplexed on one connection are each attributed their own messages', async () => {
    const connection = await open();
    const ids = ['gw-a', 'gw-b', 'gw-c'];
    for (const id of ids) await authorise(connection, id);
    const senders = await Promise.all(ids.map(async (id) => (await attachSender(connection, events(id))).sender));
    const tag = randomUUID();
    const outcomes = await Promise.all(senders.flatMap((s, i) => [0, 1].map((n) => send(s, { body: rhea.message.data_section(Buffer.from(`${ids[i]}#${n}`)), message_id: `${tag}-${ids[i]}-${n}` }))));
    assert.ok(outcomes.every((o) => o.accepted));
    for (const id of ids) {
      const mine = (await stored(id)).filter((m) => m.properties.messageId?.startsWith(tag));
      assert.deepEqual(mine.map((m) => m.body.toString()), [`${id}#0`, `${id}#1`]);
      assert.ok(mine.every((m) => m.properties.messageId!.includes(id)), `${id} got only its own messages`);
    }
    connection.close();
  });

  test('a delivery is accepted only once the log made it durable, and is readable when the outcome arrives', async () => {
    const log = hub.running.telemetryLog;
    const append = log.append.bind(log);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    log.append = async (entry: LogAppend): Promise<LogEvent> => {
      await gate;
      return append(entry);
    };
    try {
      const connection = await open();
      await authorise(connection, 'slow');
      const { sender } = await attachSender(connection, events('slow'));
      let readableAtOutcome: boolean | undefined;
      const outcome = send(sender, { body: rhea.message.data_section(Buffer.from('durable?')), message_id: 'd1' }).then(async (o) => {
        readableAtOutcome = (await stored('slow')).some((m) => m.properties.messageId === 'd1');
        return o;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(readableAtOutcome, undefined, 'no outcome while the append is not durable');
      release();
      assert.deepEqual(await outcome, { accepted: true });
      assert.equal(readableAtOutcome, true);
      connection.close();
    } finally {
      log.append = append;
      release();
    }
  });

  test('an oversized message is rejected with amqp:link:message-size-exceeded and nothing is stored', async () => {
    const connection = await open();
    await authorise(connection, 'size');
    const { sender } = await attachSender(connection, events('size'));
    const outcome = await send(sender, { body: rhea.message.data_section(Buffer.alloc(300 * 1024, 0x61)), message_id: 'huge' });
    assert.equal(outcome.accepted, false);
    assert.equal(!outcome.accepted && outcome.error?.condition, 'amqp:link:message-size-exceeded');
    assert.deepEqual(await stored('size'), []);
    assert.deepEqual(await send(sender, { body: rhea.message.data_section(Buffer.from('small')) }), { accepted: true }, 'the link keeps working');
    connection.close();
  });

  test('a batch (message format 0x80013700) is stored as its messages, in order', async () => {
    const connection = await open();
    await authorise(connection, 'batch');
    const { sender } = await attachSender(connection, events('batch'));
    const parts = ['one', 'two', 'three'].map((text) =>
      rhea.message.encode({ body: rhea.message.data_section(Buffer.from(text)), message_id: `b-${text}`, application_properties: { n: text } }),
    );
    const envelope = rhea.message.encode({ body: rhea.message.data_sections(parts) });
    assert.deepEqual(await send(sender, envelope, 0x80013700), { accepted: true });
    const got = (await stored('batch')).map((m) => [m.properties.messageId, m.body.toString(), m.applicationProperties['n']]);
    assert.deepEqual(got, [['b-one', 'one', 'one'], ['b-two', 'two', 'two'], ['b-three', 'three', 'three']]);

    const broken = rhea.message.encode({ body: rhea.message.data_sections([Buffer.from([0x00, 0x53, 0x75, 0xff])]) });
    const outcome = await send(sender, broken, 0x80013700);
    assert.equal(outcome.accepted, false, 'a batch that does not decode is rejected');
    assert.equal((await stored('batch')).length, 3);
    connection.close();
  });

  test('links to unknown addresses are refused with amqp:not-found, unserved features with amqp:not-implemented', async () => {
    const connection = await open();
    await authorise(connection, 't1');
    assert.equal((await attachSender(connection, '/nowhere')).error?.condition, 'amqp:not-found');
    const notifications = connection.open_receiver({ source: { address: '/messages/serviceBound/filenotifications' } });
    const refused = await once(notifications, 'receiver_error');
    assert.equal((refused.receiver!.error as AmqpError).condition, 'amqp:not-implemented');
    assert.match(String((refused.receiver!.error as AmqpError).description), /file notifications/);
    assert.equal((await attachSender(connection, events('t1'))).error, undefined, 'the connection still serves');
    connection.close();
  });

  test('a disabled device has its links detached and its connection closed', async () => {
    const connection = await open();
    await authorise(connection, 'off');
    const { sender } = await attachSender(connection, events('off'));
    const detached = once(sender, 'sender_error');
    const closed = once(connection, 'connection_close');
    await hub.running.hub.registry.putDevice('off', { deviceId: 'off', status: 'disabled' }, '*');
    assert.equal(((await detached).sender!.error as AmqpError).condition, 'amqp:unauthorized-access');
    assert.equal(((await closed).connection.error as AmqpError).condition, 'amqp:unauthorized-access');
    const again = await open();
    assert.equal((await putToken(again, 'localhost/devices/off', deviceToken('off'))).application_properties?.['status-code'], 401, 'a disabled device cannot put a token');
    again.close();
  });
});

describe('AMQP over WebSocket', () => {
  test('put-token and telemetry work over wss://{host}/$iothub/websocket with subprotocol AMQPWSB10', async () => {
    const container = rhea.create_container();
    const ws = container.websocket_connect(WebSocket as never);
    const connection = container.connect({
      connection_details: ws(`wss://localhost:${hub.port}/$iothub/websocket`, ['AMQPWSB10'], { ca: hub.ca }),
      hostname: 'localhost',
      reconnect: false,
    } as never);
    connection.on('error', () => undefined);
    connection.on('disconnected', () => undefined);
    await once(connection, 'connection_open');
    await authorise(connection, 't3');
    const { sender, error } = await attachSender(connection, events('t3'));
    assert.equal(error, undefined);
    assert.deepEqual(await send(sender, { body: rhea.message.data_section(Buffer.from('over ws')), message_id: 'ws-1' }), { accepted: true });
    assert.ok((await stored('t3')).some((m) => m.properties.messageId === 'ws-1' && m.body.toString() === 'over ws'));
    connection.close();
  });
});

describe('AMQP input real clients never send', () => {
  /** Writes the bytes (then half-closes, if asked) and resolves once the hub has closed the connection. */
  function rawSocket(bytes: Buffer, end: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', servername: 'localhost', port: hub.port, ca: hub.ca }, () => (end ? socket.end(bytes) : socket.write(bytes)));
      const timer = setTimeout(() => reject(new Error('the hub kept a broken connection open')), 5000);
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  const header = Buffer.from('414d515000010000', 'hex');
  const frame = (body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 8 + body.length, 2, 0, 0, 0]), body]);

  for (const [name, bytes, end] of [
    ['an unknown protocol id', Buffer.from('414d515009010000', 'hex'), false],
    ['a frame with an undecodable performative', Buffer.concat([header, frame(Buffer.from([0x00, 0x53, 0x99, 0xff, 0xff]))]), false],
    ['an attach on a channel without a session, before open', Buffer.concat([header, frame(Buffer.from('005312c00603a101784341', 'hex'))]), false],
    ['a truncated frame followed by end of stream', Buffer.concat([header, Buffer.from([0x00, 0x10, 0x00, 0x00, 2, 0])]), true],
  ] as const) {
    test(`${name} closes that connection and the hub keeps serving`, async () => {
      await rawSocket(bytes, end);
      const connection = await open();
      await authorise(connection, 't3');
      assert.equal((await attachSender(connection, events('t3'))).error, undefined);
      connection.close();
    });
  }
});
