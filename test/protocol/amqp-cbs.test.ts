// SASL and `$cbs` claims-based security with a raw rhea client: every SASL flavour the SDKs use, the exact types of
// the put-token reply, refusals, per-link authorisation (devices, modules, gateways) and token expiry.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import rhea, { type AmqpError, type Connection, type EventContext, type Message, type Sender } from 'rhea';
import { decodeMessage } from '../../src/domain/message-codec.js';
import { partitionOf } from '../../src/domain/partitioning.js';
import { createSasToken } from '../../src/domain/sas.js';
import { connectRaw, once, openRaw, putToken } from '../support/amqp-test-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

let hub: TestHub;
const keys = new Map<string, string>();
before(async () => {
  hub = await startTestHub();
  for (const id of ['c1', 'c2', 'plain', 'exp', 'ren', 'gw1', 'gw2']) {
    keys.set(id, (await hub.running.hub.registry.putDevice(id, {})).authentication.symmetricKey.primaryKey!);
  }
  keys.set('c1/m1', (await hub.running.hub.registry.putModule('c1', 'm1', {})).authentication.symmetricKey.primaryKey!);
});
after(async () => hub.close());

// The raw bytes of every message rhea decodes in this process, to check AMQP types the decoded values hide.
const rawBytes = new WeakMap<object, Buffer>();
const decode = rhea.message.decode;
rhea.message.decode = (buffer: Buffer) => {
  const message = decode(buffer);
  rawBytes.set(message, buffer);
  return message;
};

/** The AMQP type names of a reply's correlation id and application properties, as they were on the wire. */
function wireTypes(message: Message): { correlationId: string; properties: Record<string, string> } {
  const reader = new (rhea.types as unknown as { Reader: new (b: Buffer) => { remaining(): number; read(): Typed } }).Reader(rawBytes.get(message)!);
  const result = { correlationId: '', properties: {} as Record<string, string> };
  while (reader.remaining()) {
    const section = reader.read();
    const items = section.value as Typed[];
    if (Number(section.descriptor?.value) === 0x73) result.correlationId = items[5]?.type.name ?? 'absent';
    if (Number(section.descriptor?.value) === 0x74) for (let i = 0; i + 1 < items.length; i += 2) result.properties[String(items[i]!.value)] = items[i + 1]!.type.name;
  }
  return result;
}
interface Typed {
  type: { name: string };
  value: unknown;
  descriptor?: { value: unknown };
}

const token = (resource: string, key: string, expiry = Date.now() / 1000 + 3600, keyName?: string) =>
  createSasToken({ resource, keyBase64: key, expiry, ...(keyName === undefined ? {} : { keyName }) });
const deviceToken = (id: string, expiry?: number) => token(`localhost/devices/${id}`, keys.get(id)!, expiry);

const connect = (options: object = {}) => connectRaw(hub.port, hub.ca, options);
const open = (options: object = {}) => openRaw(hub.port, hub.ca, options);

const status = (reply: Message) => reply.application_properties?.['status-code'];

async function attachSender(connection: Connection, address: string): Promise<{ sender: Sender; error?: AmqpError }> {
  const sender = connection.open_sender({ target: { address } });
  return new Promise((resolve) => {
    sender.once('sendable', () => resolve({ sender }));
    sender.once('sender_error', (ctx: EventContext) => resolve({ sender, error: ctx.sender!.error as AmqpError }));
  });
}

function sendAccepted(sender: Sender, message: Message): Promise<boolean> {
  const delivery = sender.send(message);
  return new Promise((resolve) => {
    const onSettled = (ctx: EventContext) => {
      if (ctx.delivery !== delivery) return;
      sender.removeListener('settled', onSettled);
      resolve((delivery.remote_state as { constructor: { composite_type?: string } }).constructor.composite_type === 'accepted');
    };
    sender.on('settled', onSettled);
  });
}

async function storedFor(deviceId: string, messageId: string) {
  const log = hub.running.telemetryLog;
  const events = await log.read(partitionOf(deviceId, log.partitionCount), 0, 100_000);
  return events.map((e) => decodeMessage(e.payload)).find((m) => m.properties.messageId === messageId);
}

describe('AMQP SASL', () => {
  const mssbcbs = { sasl_mechanisms: { MSSBCBS: () => ({ start: (done: (err: unknown, response: Buffer) => void) => done(undefined, Buffer.alloc(0)) }) } };
  for (const [name, options, mechanism] of [
    ['no SASL (Node IoT SDKs)', () => ({}), undefined],
    ['ANONYMOUS (@azure/event-hubs)', () => ({ username: 'service' }), 'ANONYMOUS'],
    ['PLAIN (legacy clients)', () => ({ username: 'c1@sas.lazuli', password: deviceToken('c1') }), 'PLAIN'],
    ['MSSBCBS (C SDK)', () => mssbcbs, 'MSSBCBS'],
  ] as const) {
    test(`${name} reaches put-token`, async () => {
      const connection = await open(options());
      assert.equal((connection.sasl_transport as { mechanism_name?: string } | undefined)?.mechanism_name, mechanism);
      assert.equal(status(await putToken(connection, 'localhost/devices/c1', deviceToken('c1'))), 200);
      connection.close();
    });
  }

  test('a PLAIN password that is no valid token fails SASL', async () => {
    const connection = connect({ username: 'c1@sas.lazuli', password: 'SharedAccessSignature sr=localhost%2Fdevices%2Fc1&sig=bad&se=9999999999' });
    const outcome = await Promise.race([once(connection, 'connection_open').then(() => 'open'), once(connection, 'connection_error').then(() => 'refused')]);
    assert.equal(outcome, 'refused');
    connection.close();
  });

  test('PLAIN credentials authorise that device without $cbs', async () => {
    const connection = await open({ username: 'plain@sas.lazuli', password: deviceToken('plain') });
    const { sender, error } = await attachSender(connection, '/devices/plain/messages/events');
    assert.equal(error, undefined);
    assert.equal(await sendAccepted(sender, { body: rhea.message.data_section(Buffer.from('p')), message_id: 'plain-1' }), true);
    assert.equal((await attachSender(connection, '/devices/c2/messages/events')).error?.condition, 'amqp:unauthorized-access');
    connection.close();
  });
});

describe('AMQP $cbs put-token', () => {
  test('the reply carries status-code as the AMQP int 200 and echoes a string message id as a string', async () => {
    const connection = await open();
    const messageId = randomUUID();
    const reply = await putToken(connection, 'localhost%2Fdevices%2Fc1', deviceToken('c1'), { messageId });
    assert.equal(status(reply), 200);
    assert.equal(reply.correlation_id, messageId);
    const types = wireTypes(reply);
    assert.equal(types.correlationId, 'Str8');
    assert.match(types.properties['status-code']!, /^(Int|SmallInt)$/);
    assert.equal(types.properties['status-description'], 'Str8');
    connection.close();
  });

  test('a uuid message id comes back as a uuid correlation id', async () => {
    const connection = await open();
    const uuid = rhea.string_to_uuid(randomUUID());
    const reply = await putToken(connection, 'localhost/devices/c1', deviceToken('c1'), { messageId: uuid });
    assert.equal(status(reply), 200);
    assert.deepEqual(reply.correlation_id, uuid);
    assert.equal(wireTypes(reply).correlationId, 'Uuid');
    connection.close();
  });

  test('bad tokens get 401 with a description, and the connection keeps working', async () => {
    const connection = await open();
    const forged = token('localhost/devices/c1', Buffer.alloc(32, 7).toString('base64'));
    const cases: Array<[string, string, { type?: string }?]> = [
      ['localhost/devices/c1', forged],
      ['localhost/devices/c1', deviceToken('c1', Date.now() / 1000 - 10)],
      ['localhost/devices/c2', deviceToken('c1')],
      ['otherhub/devices/c1', token('otherhub/devices/c1', keys.get('c1')!)],
      ['localhost/devices/c1', 'not a token'],
      ['localhost/devices/c1', deviceToken('c1'), { type: 'jwt' }],
    ];
    for (const [name, text, extra] of cases) {
      const reply = await putToken(connection, name, text, extra);
      assert.equal(status(reply), 401, `${name}: ${String(reply.application_properties?.['status-description'])}`);
      assert.ok(String(reply.application_properties?.['status-description']).length > 0);
    }
    assert.equal(status(await putToken(connection, 'localhost/devices/c1', deviceToken('c1'))), 200);
    connection.close();
  });

  test('a module token opens only that module, a device token not its modules', async () => {
    const connection = await open();
    assert.equal(status(await putToken(connection, 'localhost/devices/c1', deviceToken('c1'))), 200);
    assert.equal((await attachSender(connection, '/devices/c1/modules/m1/messages/events')).error?.condition, 'amqp:unauthorized-access');
    assert.equal(status(await putToken(connection, 'localhost/devices/c1/modules/m1', token('localhost/devices/c1/modules/m1', keys.get('c1/m1')!))), 200);
    const { sender, error } = await attachSender(connection, '/devices/c1/modules/m1/messages/events');
    assert.equal(error, undefined);
    assert.equal(await sendAccepted(sender, { body: rhea.message.data_section(Buffer.from('m')), message_id: 'mod-1', application_properties: { 'iothub-outputname': 'o1' } }), true);
    const stored = await storedFor('c1', 'mod-1');
    assert.equal(stored?.annotations['iothub-connection-module-id'], 'm1');
    assert.equal(stored?.applicationProperties['iothub-outputname'], 'o1');
    connection.close();
  });

  test('a gateway with a DeviceConnect policy token sends for several devices', async () => {
    const connection = await open();
    const policy = hub.policy('device');
    assert.equal(status(await putToken(connection, 'localhost', token('localhost', policy.primaryKey, Date.now() / 1000 + 3600, 'device'))), 200);
    for (const id of ['gw1', 'gw2']) {
      const { sender, error } = await attachSender(connection, `/devices/${id}/messages/events`);
      assert.equal(error, undefined);
      assert.equal(await sendAccepted(sender, { body: rhea.message.data_section(Buffer.from(id)), message_id: `via-gw-${id}` }), true);
      const stored = await storedFor(id, `via-gw-${id}`);
      assert.equal(stored?.annotations['iothub-connection-device-id'], id);
      assert.match(String(stored?.annotations['iothub-connection-auth-method']), /"scope":"hub"/);
    }
    connection.close();
  });

  test('an expired token detaches its links and closes a connection left with nothing; a renewed one keeps them', async () => {
    const soon = Date.now() / 1000 + 2;
    const [expiring, renewing] = await Promise.all([open(), open()]);
    assert.equal(status(await putToken(expiring, 'localhost/devices/exp', deviceToken('exp', soon))), 200);
    assert.equal(status(await putToken(renewing, 'localhost/devices/ren', deviceToken('ren', soon))), 200);
    const lost = (await attachSender(expiring, '/devices/exp/messages/events')).sender;
    const kept = (await attachSender(renewing, '/devices/ren/messages/events')).sender;
    assert.equal(status(await putToken(renewing, 'localhost/devices/ren', deviceToken('ren'))), 200);
    const detached = await once(lost, 'sender_error', 5000);
    assert.equal((detached.sender!.error as AmqpError).condition, 'amqp:unauthorized-access');
    const closed = await once(expiring, 'connection_close', 5000);
    assert.equal((closed.connection.error as AmqpError).condition, 'amqp:unauthorized-access');
    assert.ok(Date.now() / 1000 >= Math.floor(soon), 'the renewing connection is now past the first token');
    assert.equal(await sendAccepted(kept, { body: rhea.message.data_section(Buffer.from('r')), message_id: 'renewed' }), true);
    renewing.close();
  });
});
