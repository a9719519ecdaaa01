// Cloud-to-device messaging over AMQP with a raw rhea client: the back end's /messages/devicebound sender and
// feedback receiver, a device's devicebound receiver, their authorisation, outcomes and error conditions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import rhea, { type AmqpError, type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import { createSasToken } from '../../src/domain/sas.js';
import { once, openRaw, putToken } from '../support/amqp-test-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

let hub: TestHub;
const keys = new Map<string, string>();
before(async () => {
  hub = await startTestHub();
  for (const id of ['c1', 'c2', 'c3', 'c4', 'c5', 'full', 'mine', 'theirs']) {
    keys.set(id, (await hub.running.hub.registry.putDevice(id, {})).authentication.symmetricKey.primaryKey!);
  }
  await hub.running.hub.registry.putModule('c1', 'm1', {});
});
after(async () => hub.close());

const open = () => openRaw(hub.port, hub.ca);
const deviceToken = (id: string) => createSasToken({ resource: `localhost/devices/${id}`, keyBase64: keys.get(id)!, expiry: Date.now() / 1000 + 3600 });

async function serviceConnection(): Promise<Connection> {
  const connection = await open();
  const reply = await putToken(connection, 'localhost', hub.serviceToken('service'));
  assert.equal(reply.application_properties?.['status-code'], 200);
  return connection;
}

async function deviceConnection(id: string): Promise<Connection> {
  const connection = await open();
  const reply = await putToken(connection, `localhost/devices/${id}`, deviceToken(id));
  assert.equal(reply.application_properties?.['status-code'], 200);
  return connection;
}

async function c2dSender(connection: Connection): Promise<Sender> {
  const sender = connection.open_sender({ target: { address: '/messages/devicebound' } });
  await once(sender, 'sendable');
  return sender;
}

type Outcome = { accepted: boolean; error?: AmqpError };

function send(sender: Sender, message: Message): Promise<Outcome> {
  const delivery = sender.send(message);
  return new Promise((resolve) => {
    const onSettled = (ctx: EventContext) => {
      if (ctx.delivery !== delivery) return;
      sender.removeListener('settled', onSettled);
      const state = delivery.remote_state as { error?: AmqpError; constructor: { composite_type?: string } } | undefined;
      resolve({ accepted: state?.constructor.composite_type === 'accepted', ...(state?.error ? { error: state.error } : {}) });
    };
    sender.on('settled', onSettled);
  });
}

/** A receiver with manual settlement that collects what arrives. */
function receiver(connection: Connection, address: string, credit = 100): { link: Receiver; arrived: Array<{ message: Message; delivery: Delivery }>; next(ms?: number): Promise<{ message: Message; delivery: Delivery }> } {
  // rhea's credit window refills as messages arrive; a fixed grant shows whether the hub honours credit.
  const link = connection.open_receiver({ source: { address }, autoaccept: false, credit_window: 0 });
  link.add_credit(credit);
  const arrived: Array<{ message: Message; delivery: Delivery }> = [];
  const waiting: Array<(d: { message: Message; delivery: Delivery }) => void> = [];
  link.on('message', (ctx: EventContext) => {
    const d = { message: ctx.message!, delivery: ctx.delivery! };
    const w = waiting.shift();
    if (w) w(d);
    else arrived.push(d);
  });
  return {
    link,
    arrived,
    next: (ms = 5000) =>
      new Promise((resolve, reject) => {
        const ready = arrived.shift();
        if (ready) return resolve(ready);
        const timer = setTimeout(() => reject(new Error(`nothing arrived on ${address} within ${ms} ms`)), ms);
        waiting.push((d) => {
          clearTimeout(timer);
          resolve(d);
        });
      }),
  };
}

const to = (id: string) => `/devices/${encodeURIComponent(id)}/messages/devicebound`;
const bodyOf = (m: Message) => (m.body as { content: Buffer }).content;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function feedbackRecords(connection: Connection): Promise<Array<Record<string, string>>> {
  await hub.running.hub.c2d.feedback.stop(); // lets a seal in progress finish
  hub.running.hub.c2d.feedback.flush();
  const feedback = receiver(connection, '/messages/serviceBound/feedback');
  const { message, delivery } = await feedback.next();
  delivery.accept();
  assert.equal(message.content_type, 'application/vnd.microsoft.iothub.feedback.json');
  assert.ok(message.message_annotations?.['iothub-enqueuedtime'] instanceof Date);
  assert.equal(Buffer.from(message.user_id as unknown as Buffer).toString(), hub.running.hub.info.name);
  feedback.link.close();
  return JSON.parse(bodyOf(message).toString('utf8')) as Array<Record<string, string>>;
}

describe('AMQP cloud-to-device', () => {
  test('a back end sends, the device receives with its properties, a 16-byte tag and the queue annotations, and completes; feedback Success follows', async () => {
    const service = await serviceConnection();
    const sender = await c2dSender(service);
    const outcome = await send(sender, {
      to: to('c1'),
      message_id: 'msg-1',
      correlation_id: 'corr-1',
      content_type: 'application/json',
      application_properties: { 'iothub-ack': 'full', colour: 'blue' },
      body: rhea.message.data_section(Buffer.from('{"on":true}')),
    });
    assert.deepEqual(outcome, { accepted: true });
    assert.equal(await hub.running.hub.c2d.count({ deviceId: 'c1' }), 1);

    const device = await deviceConnection('c1');
    const c2d = receiver(device, '/devices/c1/messages/devicebound');
    const { message, delivery } = await c2d.next();
    assert.equal(bodyOf(message).toString(), '{"on":true}');
    assert.equal(message.message_id, 'msg-1');
    assert.equal(message.correlation_id, 'corr-1');
    assert.equal(message.content_type, 'application/json');
    assert.equal(message.to, '/devices/c1/messages/deviceBound');
    assert.deepEqual(message.application_properties, { 'iothub-ack': 'full', colour: 'blue' });
    assert.equal(message.message_annotations?.['x-opt-sequence-number'], 1);
    assert.equal(message.delivery_count, 0);
    assert.equal((delivery as unknown as { tag: Buffer }).tag.length, 16);
    delivery.accept();
    await delay(200);
    assert.equal(await hub.running.hub.c2d.count({ deviceId: 'c1' }), 0);

    const records = await feedbackRecords(service);
    const mine = records.find((r) => r.originalMessageId === 'msg-1');
    assert.equal(mine?.statusCode, 'Success');
    assert.equal(mine?.deviceId, 'c1');
    device.close();
    service.close();
  });

  test('released is an abandon (redelivered, delivery count 1); rejected dead-letters with feedback Rejected', async () => {
    const service = await serviceConnection();
    const sender = await c2dSender(service);
    await send(sender, { to: to('c2'), message_id: 'rel', application_properties: { 'iothub-ack': 'negative' }, body: rhea.message.data_section(Buffer.from('a')) });
    const device = await deviceConnection('c2');
    const c2d = receiver(device, '/devices/c2/messages/devicebound');
    const first = await c2d.next();
    first.delivery.release();
    const again = await c2d.next();
    assert.equal(again.message.message_id, 'rel');
    assert.equal(again.message.delivery_count, 1);
    again.delivery.reject();
    await delay(200);
    assert.equal(await hub.running.hub.c2d.count({ deviceId: 'c2' }), 0);
    const records = await feedbackRecords(service);
    assert.equal(records.find((r) => r.originalMessageId === 'rel')?.statusCode, 'Rejected');
    device.close();
    service.close();
  });

  test('messages a link held when it detached are offered again at once, in order', async () => {
    const service = await serviceConnection();
    const sender = await c2dSender(service);
    for (const id of ['o1', 'o2', 'o3']) await send(sender, { to: to('c3'), message_id: id, body: rhea.message.data_section(Buffer.from(id)) });
    const device = await deviceConnection('c3');
    const first = receiver(device, '/devices/c3/messages/devicebound');
    await first.next();
    await delay(100);
    assert.equal(first.arrived.length, 2, 'all three were delivered while the link had credit');
    first.link.close();
    await once(first.link, 'receiver_close');
    const second = receiver(device, '/devices/c3/messages/devicebound');
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const d = await second.next();
      ids.push(d.message.message_id);
      d.delivery.accept();
    }
    assert.deepEqual(ids, ['o1', 'o2', 'o3']);
    device.close();
    service.close();
  });

  test('messages held by a connection that drops without detaching are offered again at once', async () => {
    await hub.running.hub.c2d.send({ deviceId: 'c3' }, { body: Buffer.from('held'), properties: { messageId: 'held' }, applicationProperties: {} });
    const dropped = await deviceConnection('c3');
    await receiver(dropped, '/devices/c3/messages/devicebound').next();
    // With an error, so the client's rhea learns its socket is gone and stops its heartbeat timer.
    (dropped as unknown as { socket: { destroy(err: Error): void } }).socket.destroy(new Error('network gone'));
    await delay(300);
    const device = await deviceConnection('c3');
    const again = await receiver(device, '/devices/c3/messages/devicebound').next(2000);
    assert.equal(again.message.message_id, 'held');
    assert.ok(Number(again.message.delivery_count) >= 1, 'a redelivery');
    again.delivery.accept();
    device.close();
  });

  test('a message sent while the device listens arrives promptly, and link credit is honoured', async () => {
    const service = await serviceConnection();
    const sender = await c2dSender(service);
    const device = await deviceConnection('c4');
    const c2d = receiver(device, '/devices/c4/messages/devicebound', 2);
    await once(c2d.link, 'receiver_open');
    const started = Date.now();
    for (let i = 0; i < 5; i++) await send(sender, { to: to('c4'), message_id: `p${i}`, body: rhea.message.data_section(Buffer.from('x')) });
    const first = await c2d.next();
    assert.ok(Date.now() - started < 1000, 'delivered without waiting for a poll');
    await delay(200);
    assert.equal(c2d.arrived.length, 1, 'two credits: two messages out, the rest wait');
    first.delivery.accept();
    const second = c2d.arrived.shift()!;
    second.delivery.accept();
    await delay(100);
    assert.equal(c2d.arrived.length, 0, 'no credit left: nothing more is sent');
    c2d.link.add_credit(1);
    const third = await c2d.next();
    assert.equal(third.message.message_id, 'p2');
    device.close();
    service.close();
  });

  test('refusals: unknown device amqp:not-found, full queue amqp:resource-limit-exceeded, large message amqp:link:message-size-exceeded, bad to argument-error', async () => {
    const service = await serviceConnection();
    const sender = await c2dSender(service);
    const unknown = await send(sender, { to: to('nobody'), body: rhea.message.data_section(Buffer.from('x')) });
    assert.equal(unknown.error?.condition, 'amqp:not-found');
    for (let i = 0; i < 50; i++) assert.equal((await send(sender, { to: to('full'), body: rhea.message.data_section(Buffer.from('x')) })).accepted, true);
    const full = await send(sender, { to: to('full'), body: rhea.message.data_section(Buffer.from('x')) });
    assert.equal(full.error?.condition, 'amqp:resource-limit-exceeded');
    const large = await send(sender, { to: to('c5'), body: rhea.message.data_section(Buffer.alloc(64 * 1024 + 1)) });
    assert.equal(large.error?.condition, 'amqp:link:message-size-exceeded');
    const badTo = await send(sender, { to: '/devices/c5/messages/events', body: rhea.message.data_section(Buffer.from('x')) });
    assert.equal(badTo.error?.condition, 'com.microsoft:argument-error');
    const noTo = await send(sender, { body: rhea.message.data_section(Buffer.from('x')) });
    assert.equal(noTo.error?.condition, 'com.microsoft:argument-error');
    assert.equal(await hub.running.hub.c2d.count({ deviceId: 'c5' }), 0);
    const ok = await send(sender, { to: to('c5'), body: rhea.message.data_section(Buffer.from('still serving')) });
    assert.equal(ok.accepted, true);
    service.close();
  });

  test('a device token opens neither service links nor another device\'s devicebound link', async () => {
    const device = await deviceConnection('mine');
    await hub.running.hub.c2d.send({ deviceId: 'theirs' }, { body: Buffer.from('secret'), properties: {}, applicationProperties: {} });
    const c2dSend = device.open_sender({ target: { address: '/messages/devicebound' } });
    await once(c2dSend, 'sender_error');
    assert.equal((c2dSend.error as AmqpError).condition, 'amqp:unauthorized-access');
    const feedback = device.open_receiver({ source: { address: '/messages/serviceBound/feedback' } });
    await once(feedback, 'receiver_error');
    assert.equal((feedback.error as AmqpError).condition, 'amqp:unauthorized-access');
    const theirs = device.open_receiver({ source: { address: '/devices/theirs/messages/devicebound' } });
    await once(theirs, 'receiver_error');
    assert.equal((theirs.error as AmqpError).condition, 'amqp:unauthorized-access');
    assert.equal(await hub.running.hub.c2d.count({ deviceId: 'theirs' }), 1, 'their message is untouched');
    device.close();
  });

  test('a module has its own queue and link', async () => {
    const service = await serviceConnection();
    const sender = await c2dSender(service);
    assert.equal((await send(sender, { to: '/devices/c1/modules/m1/messages/devicebound', message_id: 'for-module', body: rhea.message.data_section(Buffer.from('m')) })).accepted, true);
    assert.equal(await hub.running.hub.c2d.count({ deviceId: 'c1' }), 0);
    assert.equal(await hub.running.hub.c2d.count({ deviceId: 'c1', moduleId: 'm1' }), 1);
    const moduleKey = (await hub.running.hub.registry.getModule('c1', 'm1')).authentication.symmetricKey.primaryKey!;
    const connection = await open();
    const token = createSasToken({ resource: 'localhost/devices/c1/modules/m1', keyBase64: moduleKey, expiry: Date.now() / 1000 + 600 });
    assert.equal((await putToken(connection, 'localhost/devices/c1/modules/m1', token)).application_properties?.['status-code'], 200);
    const c2d = receiver(connection, '/devices/c1/modules/m1/messages/devicebound');
    const { message, delivery } = await c2d.next();
    assert.equal(message.message_id, 'for-module');
    assert.equal(message.to, '/devices/c1/modules/m1/messages/deviceBound');
    delivery.accept();
    connection.close();
    service.close();
  });

  test('deleting a module empties its queue: a module created again with the same id starts with none', async () => {
    const c2d = hub.running.hub.c2d;
    await hub.running.hub.registry.putModule('c5', 'gone', {});
    await c2d.send({ deviceId: 'c5', moduleId: 'gone' }, { body: Buffer.from('x'), properties: {}, applicationProperties: {} });
    assert.equal(await c2d.count({ deviceId: 'c5', moduleId: 'gone' }), 1);
    await hub.running.hub.registry.deleteModule('c5', 'gone');
    await delay(100);
    await hub.running.hub.registry.putModule('c5', 'gone', {});
    assert.equal(await c2d.count({ deviceId: 'c5', moduleId: 'gone' }), 0);
  });
});
