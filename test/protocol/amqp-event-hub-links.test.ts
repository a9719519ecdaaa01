// How the AMQP adapter hosts the Event Hub-compatible endpoint: it authorises partition receivers and `$management`
// requests by their claims and delegates them. A recording endpoint stands in for the real one, served by a second
// adapter on the test hub's services over plain TCP.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import rhea, { type AmqpError, type Connection, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import { createSasToken } from '../../src/domain/sas.js';
import { EventHubEndpoint, type EventHubAddress } from '../../src/protocols/eventhub/event-hub-endpoint.js';
import { createAmqpAdapter, type AmqpAdapter } from '../../src/protocols/amqp/amqp-adapter.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

class RecordingEndpoint extends EventHubEndpoint {
  readonly partitions: Array<{ consumerGroup: string; partition: string; filter: unknown }> = [];
  readonly requests: Message[] = [];

  override parseAddress(address: string): EventHubAddress | undefined {
    if (/^(?:[^/]+\/)?\$management$/i.test(address)) return { kind: 'management' };
    const m = /^[^/]+\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i.exec(address);
    return m ? { kind: 'partition', consumerGroup: m[1]!, partition: m[2]! } : undefined;
  }

  override openPartitionSender(link: Sender, address: { consumerGroup: string; partition: string }): void {
    this.partitions.push({ ...address, filter: link.source?.filter });
    link.once('sendable', () => link.send({ body: rhea.message.data_section(Buffer.from('event')) }));
  }

  override async handleManagementRequest(request: Message): Promise<Message> {
    this.requests.push(request);
    return { body: { name: 'lazuli', partition_count: rhea.types.wrap_int(4) }, application_properties: { 'status-code': 200, 'status-description': 'OK' } };
  }
}

let hub: TestHub;
let endpoint: RecordingEndpoint;
let adapter: AmqpAdapter;
let server: Server;
let port: number;
before(async () => {
  hub = await startTestHub();
  const logger = pino({ level: 'silent' });
  endpoint = new RecordingEndpoint({ hub: hub.running.hub, logger });
  adapter = createAmqpAdapter({ hub: hub.running.hub, logger, eventHub: endpoint });
  server = createServer((socket) => adapter.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  await adapter.close();
  await new Promise((resolve) => server.close(resolve));
  await hub.close();
});

function once(emitter: { once(event: string, fn: (ctx: EventContext) => void): unknown }, event: string, ms = 5000): Promise<EventContext> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (ctx) => {
      clearTimeout(timer);
      resolve(ctx);
    });
  });
}

async function open(): Promise<Connection> {
  const connection = rhea.create_container().connect({ host: '127.0.0.1', port, hostname: 'localhost', reconnect: false, username: 'service' } as never);
  connection.on('error', () => undefined);
  connection.on('disconnected', () => undefined);
  await once(connection, 'connection_open');
  return connection;
}

/** A token as @azure/event-hubs signs it: HMAC keyed with the UTF-8 bytes of the key text. */
function eventHubToken(path: string, policy = 'service'): string {
  const key = hub.policy(policy).primaryKey;
  return createSasToken({ resource: `sb://localhost/${path}`, keyBase64: Buffer.from(key, 'utf8').toString('base64'), keyName: policy, expiry: Date.now() / 1000 + 3600 });
}

async function putToken(connection: Connection, path: string, policy?: string): Promise<unknown> {
  const sender = connection.open_sender({ target: { address: '$cbs' } });
  const name = `cbs-${randomUUID()}`;
  const receiver = connection.open_receiver({ name, source: { address: '$cbs' }, target: { address: name } });
  await Promise.all([once(sender, 'sendable'), once(receiver, 'receiver_open')]);
  const id = randomUUID();
  sender.send({ message_id: id, reply_to: name, application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: `sb://localhost/${path}` }, body: eventHubToken(path, policy) });
  const reply = await once(receiver, 'message');
  assert.equal(reply.message?.correlation_id, id);
  return reply.message?.application_properties?.['status-code'];
}

const SELECTOR = 'apache.org:selector-filter:string';

function attachPartition(connection: Connection, address: string): Promise<{ receiver: Receiver; error?: AmqpError }> {
  const receiver = connection.open_receiver({
    source: { address, filter: { [SELECTOR]: rhea.types.wrap_described("amqp.annotation.x-opt-offset > '-1'", 0x468c00000004) } },
    credit_window: 1,
  } as never);
  return new Promise((resolve) => {
    // A refusal is an attach with a null source followed by a detach carrying the error.
    receiver.once('receiver_open', () => receiver.source?.address !== undefined && resolve({ receiver }));
    receiver.once('receiver_error', (ctx: EventContext) => resolve({ receiver, error: ctx.receiver!.error as AmqpError }));
  });
}

describe('AMQP links of the Event Hub-compatible endpoint', () => {
  test('a partition receiver needs a ServiceConnect token covering its address, then goes to the endpoint', async () => {
    const connection = await open();
    const address = 'lazuli/ConsumerGroups/$Default/Partitions/0';
    assert.equal((await attachPartition(connection, address)).error?.condition, 'amqp:unauthorized-access', 'no token');
    assert.equal(await putToken(connection, 'lazuli/ConsumerGroups/$Default/Partitions/1'), 200);
    assert.equal((await attachPartition(connection, address)).error?.condition, 'amqp:unauthorized-access', 'a token for another partition');
    assert.equal(await putToken(connection, 'lazuli', 'device'), 200);
    assert.equal((await attachPartition(connection, address)).error?.condition, 'amqp:unauthorized-access', 'a policy without ServiceConnect');
    assert.equal(endpoint.partitions.length, 0, 'nothing reached the endpoint');

    assert.equal(await putToken(connection, 'lazuli/ConsumerGroups/$Default/Partitions/0'), 200);
    const event = new Promise<EventContext>((resolve) => connection.once('message', resolve));
    const { receiver, error } = await attachPartition(connection, address);
    assert.equal(error, undefined);
    assert.deepEqual(endpoint.partitions.map((p) => [p.consumerGroup, p.partition]), [['$Default', '0']]);
    assert.equal(receiver.source.address, address, 'the source is echoed');
    const filter = receiver.source.filter?.[SELECTOR] as { value: unknown; descriptor?: { value: unknown } };
    assert.equal(filter.value, "amqp.annotation.x-opt-offset > '-1'", 'with its selector filter');
    assert.equal(Number(filter.descriptor?.value), 0x468c00000004, 'still described as a selector');
    assert.equal(((await event).message?.body as { content: Buffer }).content.toString(), 'event');
    connection.close();
  });

  test('$management answers 401 without a token, and the endpoint answers on the receiver named by reply-to', async () => {
    const connection = await open();
    const requests = connection.open_sender({ target: { address: '$management' } });
    const [decoy, mine] = ['decoy', randomUUID()].map((name) => connection.open_receiver({ name, source: { address: '$management' }, target: { address: name } }));
    await Promise.all([once(requests, 'sendable'), once(decoy!, 'receiver_open'), once(mine!, 'receiver_open')]);
    decoy!.on('message', () => assert.fail('the reply went to the wrong receiver'));
    const ask = async (properties: Record<string, unknown> = {}): Promise<Message> => {
      const id = randomUUID();
      const reply = once(mine!, 'message');
      requests.send({ message_id: id, reply_to: mine!.name, body: Buffer.from('[]'), application_properties: { operation: 'READ', type: 'com.microsoft:eventhub', name: 'lazuli', ...properties } });
      const message = (await reply).message!;
      assert.equal(message.correlation_id, id);
      return message;
    };
    assert.equal((await ask()).application_properties?.['status-code'], 401);
    assert.equal(endpoint.requests.length, 0);
    assert.equal((await ask({ security_token: eventHubToken('lazuli') })).application_properties?.['status-code'], 200, 'a security_token authorises one request');
    assert.equal(await putToken(connection, 'lazuli/$management'), 200);
    const answer = await ask();
    assert.equal(answer.application_properties?.['status-code'], 200);
    assert.equal((answer.body as { name: string }).name, 'lazuli');
    assert.equal(endpoint.requests.length, 2);
    connection.close();
  });
});
