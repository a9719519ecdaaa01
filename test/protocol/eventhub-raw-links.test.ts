// The Event Hub-compatible endpoint with a bare rhea client: credit, settlement, refusals and limits that the
// Event Hubs SDK hides or never exercises.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import rhea, { type Connection, type EventContext, type Message, type Receiver, type ReceiverOptions, type Typed } from 'rhea';
import { encodeMessage } from '../../src/domain/message-codec.js';
import { startEventHubTestServer, suiteTlsMaterial, type EventHubTestServer } from './eventhub-test-server.js';

const FILTER_KEY = 'apache.org:selector-filter:string';
let tls: { cert: string; key: string };
let server: EventHubTestServer;
const connections: Connection[] = [];

before(async () => {
  tls = await suiteTlsMaterial();
  server = await startEventHubTestServer({ ...tls, hubName: 'rawhub', partitions: 2 });
});
after(async () => {
  for (const c of connections) c.close();
  await server.close();
});

async function connect(port = server.port): Promise<Connection> {
  const connection = rhea.create_container().connect({ host: 'localhost', port, transport: 'tls', username: 'test', reconnect: false } as never);
  connection.on('error', () => {});
  connection.on('disconnected', () => {});
  connections.push(connection);
  await once(connection, 'connection_open');
  return connection;
}

function filter(expression: string): Record<string, unknown> {
  return { [FILTER_KEY]: rhea.types.wrap_described(expression, 0x468c00000004) };
}

interface Attached {
  link: Receiver;
  messages: Array<{ message: Message; settled: boolean }>;
  opened: Promise<void>;
  /** The detach's error, once the server detached the link. */
  closed: Promise<{ condition?: string; description?: string } | undefined>;
  arrived(n: number, timeoutMs?: number): Promise<void>;
}

function attach(connection: Connection, address: string, options: Partial<ReceiverOptions> & { filterExpression?: string } = {}): Attached {
  const { filterExpression, ...rest } = options;
  const link = connection.open_receiver({
    source: { address, ...(filterExpression === undefined ? {} : { filter: filter(filterExpression) }) },
    target: { address: 'raw-client' },
    credit_window: 0,
    ...rest,
  } as ReceiverOptions);
  const messages: Attached['messages'] = [];
  link.on('message', (ctx: EventContext) => messages.push({ message: ctx.message!, settled: ctx.delivery!.remote_settled }));
  const closed = new Promise<{ condition?: string; description?: string } | undefined>((resolve) => {
    link.on('receiver_close', (ctx: EventContext) => resolve(ctx.receiver!.error as { condition?: string } | undefined));
  });
  link.on('receiver_error', () => {});
  return {
    link,
    messages,
    opened: once(link, 'receiver_open').then(() => undefined),
    closed,
    async arrived(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`got ${messages.length} of ${n} messages`);
        await sleep(10);
      }
    },
  };
}

async function stage(partition: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await server.log.append({ partition, payload: encodeMessage({ body: Buffer.from(`e${i}`), properties: {}, applicationProperties: {}, annotations: {} }) });
  }
}

/** Whether the link is still attached after the server had time to refuse it. */
async function stillAttached(a: Attached, ms = 300): Promise<boolean> {
  return Promise.race([a.closed.then(() => false), sleep(ms).then(() => true)]);
}

describe('credit', () => {
  test('deliveries never exceed the credit granted, and resume when more is granted', async () => {
    await stage(0, 10);
    const connection = await connect();
    const r = attach(connection, 'rawhub/ConsumerGroups/$Default/Partitions/0', { filterExpression: "amqp.annotation.x-opt-offset > '-1'" });
    await r.opened;
    await sleep(200);
    assert.equal(r.messages.length, 0, 'no credit, no deliveries');
    r.link.add_credit(3);
    await r.arrived(3);
    await sleep(200);
    assert.equal(r.messages.length, 3);
    r.link.add_credit(2);
    await r.arrived(5);
    await sleep(200);
    assert.equal(r.messages.length, 5);
    r.link.add_credit(10);
    await r.arrived(10);
    await stage(0, 5); // appended while 5 credits are left
    await r.arrived(15);
    await sleep(200);
    assert.equal(r.messages.length, 15);
    assert.deepEqual(r.messages.map((m) => m.message.message_annotations!['x-opt-sequence-number']), Array.from({ length: 15 }, (_, i) => i));
    assert.ok(r.messages.every((m) => m.settled), 'sent pre-settled');
    r.link.close();
  });

  test('the reply attach echoes the source with its filter, and the target', async () => {
    const connection = await connect();
    const r = attach(connection, 'rawhub/ConsumerGroups/$Default/Partitions/1', { filterExpression: "amqp.annotation.x-opt-offset > '@latest'" });
    await r.opened;
    r.link.close();
    assert.equal(r.link.source.address, 'rawhub/ConsumerGroups/$Default/Partitions/1');
    // Still described, as the client sent it: rhea leaves a described filter value wrapped.
    const echoed = (r.link.source.filter as Record<string, Typed>)[FILTER_KEY]!;
    assert.equal(echoed.value, "amqp.annotation.x-opt-offset > '@latest'");
    assert.equal(Number(echoed.descriptor.value), 0x468c00000004);
    assert.equal(r.link.target.address, 'raw-client');
  });

  test('a receiver that asks for unsettled deliveries gets them, and more once it settles', async () => {
    const connection = await connect();
    const before = (await server.log.partitionInfo(1)).lastEnqueuedSequenceNumber;
    await stage(1, 4);
    const r = attach(connection, 'rawhub/ConsumerGroups/$Default/Partitions/1', {
      filterExpression: `amqp.annotation.x-opt-sequence-number > '${before}'`,
      snd_settle_mode: 0,
      credit_window: 2,
    } as Partial<ReceiverOptions>);
    await r.arrived(4);
    assert.ok(r.messages.every((m) => !m.settled), 'unsettled');
    r.link.close();
  });
});

describe('a receiver that stops taking deliveries', () => {
  // Either way rhea's outgoing window (2048 deliveries) fills long before the credit runs out; the pump must then
  // wait for rhea's 'sendable' rather than poll.
  const cases: Array<[string, boolean]> = [
    ['stops settling unsettled deliveries', false],
    ['stops reading its socket (pre-settled deliveries)', true],
  ];
  for (const [what, presettled] of cases) {
    test(`${what}: the server idles, then the rest arrives`, async () => {
      const own = await startEventHubTestServer({ ...tls, hubName: 'slow', partitions: 1 });
      try {
        const payload = encodeMessage({ body: Buffer.alloc(200, 1), properties: {}, applicationProperties: {}, annotations: {} });
        for (let i = 0; i < 6000; i++) await own.log.append({ partition: 0, payload });
        const connection = await connect(own.port);
        const socket = (connection as unknown as { socket: { pause(): void; resume(): void } }).socket;
        const deliveries: Array<{ accept(): void }> = [];
        const link = connection.open_receiver({
          source: { address: 'slow/ConsumerGroups/$Default/Partitions/0', filter: filter("amqp.annotation.x-opt-offset > '-1'") },
          credit_window: 0,
          autoaccept: presettled,
          snd_settle_mode: presettled ? 2 : 0,
        } as ReceiverOptions);
        link.on('message', (ctx: EventContext) => deliveries.push(ctx.delivery!));
        await once(link, 'receiver_open');
        if (presettled) socket.pause();
        link.add_credit(10_000);
        await sleep(presettled ? 1000 : 0);
        let seen = -1;
        while (seen !== deliveries.length) {
          seen = deliveries.length;
          await sleep(200);
        }
        assert.ok(deliveries.length < 6000, `blocked at ${deliveries.length}`);
        // A busy loop burns the whole second; half of it leaves room for GC and a loaded CI machine.
        const cpu0 = process.cpuUsage();
        await sleep(1000);
        const cpu = process.cpuUsage(cpu0);
        assert.ok(cpu.user + cpu.system < 500_000, `${(cpu.user + cpu.system) / 1000} ms of CPU in 1000 ms while blocked`);
        if (presettled) socket.resume();
        const deadline = Date.now() + 10_000;
        let accepted = 0;
        while (accepted < 6000 && Date.now() < deadline) {
          for (const d of deliveries.splice(0)) {
            if (!presettled) d.accept();
            accepted++;
          }
          await sleep(20);
        }
        assert.equal(accepted, 6000);
        link.close();
      } finally {
        await own.close();
      }
    });
  }
});

describe('refused receivers', () => {
  const cases: Array<[string, string, Partial<ReceiverOptions> & { filterExpression?: string }, string, RegExp, boolean]> = [
    ['an unknown partition', 'rawhub/ConsumerGroups/$Default/Partitions/2', {}, 'com.microsoft:argument-out-of-range', /partition "2" does not exist: rawhub has partitions 0, 1/, true],
    ['a partition id that is not a number', 'rawhub/ConsumerGroups/$Default/Partitions/x', {}, 'com.microsoft:argument-out-of-range', /"x"/, true],
    ['a filter it cannot parse', 'rawhub/ConsumerGroups/$Default/Partitions/0', { filterExpression: 'amqp.annotation.x-opt-offset < 5' }, 'com.microsoft:argument-error', /unsupported selector filter/, true],
    ['an epoch that is not a long', 'rawhub/ConsumerGroups/$Default/Partitions/0', { properties: { 'com.microsoft:epoch': 'high' } }, 'com.microsoft:argument-error', /com.microsoft:epoch must be an AMQP long/, true],
    ['an unknown consumer group', 'rawhub/ConsumerGroups/nobody/Partitions/0', {}, 'amqp:not-found', /consumer group "nobody" does not exist on rawhub/, false],
  ];
  for (const [what, address, options, condition, description, beforeAttach] of cases) {
    test(`${what}: ${condition}`, async () => {
      const r = attach(await connect(), address, options);
      await r.opened;
      const error = await r.closed;
      assert.equal(error?.condition, condition);
      assert.match(error?.description ?? '', description);
      // Refused while attaching: the reply attach carries no source (AMQP 1.0 §2.6.3); rhea shows it as a typed null.
      if (beforeAttach) assert.equal((r.link.source as unknown as Typed | null)?.value ?? null, null);
      else assert.equal(r.link.source.address, address);
    });
  }

  test('an offset the log never issued', async () => {
    const r = attach(await connect(), 'rawhub/ConsumerGroups/$Default/Partitions/0', { filterExpression: "amqp.annotation.x-opt-offset > '99999999999999999999'" });
    const error = await r.closed;
    assert.equal(error?.condition, 'com.microsoft:argument-error');
    assert.match(error?.description ?? '', /start position is not valid/);
  });
});

describe('readers per partition', () => {
  const address = 'rawhub/ConsumerGroups/$Default/Partitions/1';

  test('the sixth receiver without an epoch is refused; closing one makes room', async () => {
    const connection = await connect();
    const five = Array.from({ length: 5 }, () => attach(connection, address));
    for (const r of five) assert.equal(await stillAttached(r), true);
    const sixth = attach(connection, address);
    const error = await sixth.closed;
    assert.equal(error?.condition, 'amqp:resource-limit-exceeded');
    five[0]!.link.close();
    await once(five[0]!.link, 'receiver_close');
    const again = attach(connection, address, { filterExpression: "amqp.annotation.x-opt-offset > '-1'" });
    assert.equal(await stillAttached(again), true);
    again.link.add_credit(1);
    await again.arrived(1);
    for (const r of [...five.slice(1), again]) r.link.close();
    await Promise.all([...five.slice(1), again].map((r) => r.closed));
  });

  test('receivers of a dropped connection no longer count', async () => {
    const dropped = await connect();
    const five = Array.from({ length: 5 }, () => attach(dropped, address));
    for (const r of five) assert.equal(await stillAttached(r), true);
    (dropped as unknown as { socket: { destroy(): void } }).socket.destroy();
    await sleep(100);
    const connection = await connect();
    const next = Array.from({ length: 5 }, () => attach(connection, address));
    for (const r of next) assert.equal(await stillAttached(r), true);
    for (const r of next) r.link.close();
    await Promise.all(next.map((r) => r.closed));
  });

  test('an epoch receiver takes over from receivers without one', async () => {
    const connection = await connect();
    const plain = attach(connection, address);
    assert.equal(await stillAttached(plain), true);
    const owner = attach(connection, address, { properties: { 'com.microsoft:epoch': rhea.types.wrap_long(0) } });
    const error = await plain.closed;
    assert.equal(error?.condition, 'amqp:link:stolen');
    assert.equal(await stillAttached(owner), true);
    owner.link.close();
    await owner.closed;
  });
});

describe('$management over a bare link', () => {
  async function request(connection: Connection, message: Message): Promise<Message> {
    const replyTo = `reply-${Math.random()}`;
    const receiver = connection.open_receiver({ source: { address: '$management' }, target: { address: replyTo }, name: replyTo });
    const sender = connection.open_sender({ target: { address: '$management' } });
    await Promise.all([once(receiver, 'receiver_open'), once(sender, 'sendable')]);
    const reply = once(receiver, 'message').then(([ctx]) => (ctx as EventContext).message!);
    sender.send({ reply_to: replyTo, ...message });
    return reply;
  }

  test('a uuid message-id comes back as the correlation-id', async () => {
    const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const reply = await request(await connect(), {
      body: Buffer.from('[]'),
      message_id: id,
      application_properties: { operation: 'READ', type: 'com.microsoft:eventhub', name: 'rawhub' },
    });
    assert.deepEqual(reply.correlation_id, id);
    assert.equal(reply.application_properties?.['status-code'], 200);
    assert.deepEqual(reply.body.partition_ids, ['0', '1']);
  });

  test('another entity is 404', async () => {
    const reply = await request(await connect(), {
      body: Buffer.from('[]'),
      message_id: 'm1',
      application_properties: { operation: 'READ', type: 'com.microsoft:eventhub', name: 'otherhub' },
    });
    assert.equal(reply.correlation_id, 'm1');
    assert.equal(reply.application_properties?.['status-code'], 404);
    assert.equal(reply.application_properties?.['error-condition'], 'amqp:not-found');
  });
});

describe('closing the endpoint', () => {
  test('detaches its receivers with amqp:link:detach-forced and refuses new ones', async () => {
    const own = await startEventHubTestServer({ ...tls, hubName: 'closing', partitions: 1 });
    try {
      const connection = await connect(own.port);
      const r = attach(connection, 'closing/ConsumerGroups/$Default/Partitions/0');
      assert.equal(await stillAttached(r), true);
      own.endpoint.close();
      assert.equal((await r.closed)?.condition, 'amqp:link:detach-forced');
      const late = attach(connection, 'closing/ConsumerGroups/$Default/Partitions/0');
      assert.equal((await late.closed)?.condition, 'amqp:link:detach-forced');
    } finally {
      await own.close();
    }
  });
});
