// The Event Hub-compatible endpoint against the real EventHubConsumerClient, on a minimal rhea server that stands in
// for the AMQP adapter (eventhub-test-server.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  EventHubConsumerClient,
  earliestEventPosition,
  latestEventPosition,
  type EventPosition,
  type PartitionContext,
  type ReceivedEventData,
  type SubscribeOptions,
} from '@azure/event-hubs';
import type { DeviceIdentity } from '../../src/domain/device-identity.js';
import type { HubMessage } from '../../src/domain/message.js';
import { partitionOf } from '../../src/domain/partitioning.js';
import { startEventHubTestServer, suiteTlsMaterial, type EventHubTestServer } from './eventhub-test-server.js';

const PARTITIONS = 4;
let server: EventHubTestServer;
const clients: EventHubConsumerClient[] = [];

before(async () => {
  server = await startEventHubTestServer({ ...(await suiteTlsMaterial()), partitions: PARTITIONS });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
});

function consumer(group = '$Default', entity?: string): EventHubConsumerClient {
  const client = new EventHubConsumerClient(group, server.connectionString(entity), { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
  clients.push(client);
  return client;
}

/** A device id whose telemetry lands in `partition`. */
function deviceFor(partition: number, tag: string): DeviceIdentity {
  for (let i = 0; ; i++) {
    const deviceId = `${tag}-${i}`;
    if (partitionOf(deviceId, PARTITIONS) === partition) return { deviceId, generationId: '637388034455888246', authScope: 'device', authType: 'sas' };
  }
}

function message(i: number, fields: Partial<HubMessage> = {}): HubMessage {
  return { body: Buffer.from(JSON.stringify({ i })), properties: { messageId: `m-${i}` }, applicationProperties: { i: String(i) }, annotations: {}, ...fields };
}

async function send(identity: DeviceIdentity, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) await server.hub.telemetry.send(identity, message(i));
}

interface Collected {
  events: ReceivedEventData[];
  contexts: PartitionContext[];
  errors: Error[];
  close(): Promise<void>;
  /** Resolves once `n` events arrived in all. */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedEventData[]>;
  waitForError(timeoutMs?: number): Promise<Error>;
}

function collect(client: EventHubConsumerClient, partition: string, options: SubscribeOptions): Collected {
  const events: ReceivedEventData[] = [];
  const contexts: PartitionContext[] = [];
  const errors: Error[] = [];
  let notify = () => {};
  const subscription = client.subscribe(
    partition,
    {
      processEvents: async (batch, context) => {
        events.push(...batch);
        if (batch.length > 0) contexts.push(context);
        notify();
      },
      processError: async (err) => {
        errors.push(err);
        notify();
      },
    },
    { maxWaitTimeInSeconds: 1, ...options },
  );
  const until = async <T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what()}`);
      await Promise.race([new Promise<void>((resolve) => (notify = resolve)), sleep(Math.min(left, 250))]);
    }
  };
  return {
    events,
    contexts,
    errors,
    close: () => subscription.close(),
    waitFor: (n, timeoutMs = 10_000) =>
      until(() => (events.length >= n ? events.slice(0, n) : undefined), timeoutMs, () => `${n} events (got ${events.length}; errors: ${errors.map((e) => e.message).join('; ')})`),
    waitForError: (timeoutMs = 10_000) => until(() => errors[0], timeoutMs, () => `an error (got ${events.length} events)`),
  };
}

describe('management operations', () => {
  test('getEventHubProperties and getPartitionIds', async () => {
    const client = consumer();
    const props = await client.getEventHubProperties();
    assert.equal(props.name, 'eh-hub');
    assert.deepEqual(props.partitionIds, ['0', '1', '2', '3']);
    assert.ok(props.createdOn instanceof Date && Math.abs(props.createdOn.getTime() - Date.now()) < 60_000, String(props.createdOn));
    assert.deepEqual(await client.getPartitionIds(), ['0', '1', '2', '3']);
  });

  test('getPartitionProperties of an empty and a written partition', async () => {
    const client = consumer();
    const empty = await client.getPartitionProperties('3');
    assert.equal(empty.isEmpty, true);
    assert.equal(empty.lastEnqueuedSequenceNumber, -1);
    assert.equal(empty.beginningSequenceNumber, 0);
    assert.equal(empty.partitionId, '3');
    assert.equal(empty.eventHubName, 'eh-hub');

    const device = deviceFor(2, 'props');
    const before = (await client.getPartitionProperties('2')).lastEnqueuedSequenceNumber;
    await send(device, 3);
    const written = await client.getPartitionProperties('2');
    assert.equal(written.isEmpty, false);
    assert.equal(written.lastEnqueuedSequenceNumber, before + 3);
    assert.equal(written.lastEnqueuedOffset, String(before + 3));
    assert.ok(written.lastEnqueuedOnUtc instanceof Date && Math.abs(written.lastEnqueuedOnUtc.getTime() - Date.now()) < 60_000);
  });

  test('an unknown partition is an error the client surfaces', async () => {
    await assert.rejects(consumer().getPartitionProperties('7'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ServiceCommunicationError', `${err.name}: ${err.message}`);
      assert.match(err.message, /partition "7" does not exist/);
      return true;
    });
  });

  test('the IoT Hub built-in entity name messages/events works too', async () => {
    assert.deepEqual(await consumer('$Default', 'messages/events').getPartitionIds(), ['0', '1', '2', '3']);
  });
});

describe('reading events', () => {
  test('from the earliest event, every field intact and in order', async () => {
    const device: DeviceIdentity = { ...deviceFor(0, 'rich'), moduleId: 'mod-1', authScope: 'module', modelId: 'dtmi:com:example:Thermostat;1' };
    const rich: HubMessage = {
      body: Buffer.from('{"temperature":21.5,"unit":"C"}'),
      properties: {
        messageId: 'msg-rich',
        correlationId: 'corr-rich',
        userId: 'user-rich',
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        absoluteExpiryTime: 1_900_000_000_000,
        creationTime: 1_800_000_000_000,
      },
      applicationProperties: { level: 'high', 'odd chars': 'a&b=c/d', empty: '' },
      annotations: { 'dt-subject': 'thermostat1' },
    };
    await server.hub.telemetry.send(device, rich);
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x10, 0x80]);
    await server.hub.telemetry.send(device, { body: binary, properties: {}, applicationProperties: {}, annotations: {} });
    await send(device, 20, 2);

    const reader = collect(consumer(), '0', { startPosition: earliestEventPosition, maxBatchSize: 5 });
    const events = (await reader.waitFor(22)).filter((e) => e.systemProperties?.['iothub-connection-device-id'] === device.deviceId);
    await reader.close();
    assert.equal(events.length, 22);

    const [first, second] = events;
    assert.deepEqual(first!.body, { temperature: 21.5, unit: 'C' });
    assert.equal(first!.messageId, 'msg-rich');
    assert.equal(first!.correlationId, 'corr-rich');
    assert.equal(first!.contentType, 'application/json');
    assert.deepEqual(first!.properties, { level: 'high', 'odd chars': 'a&b=c/d', empty: '' });
    const sys = first!.systemProperties!;
    assert.equal(sys['iothub-connection-device-id'], device.deviceId);
    assert.equal(sys['iothub-connection-module-id'], 'mod-1');
    assert.equal(sys['iothub-connection-auth-method'], '{"scope":"module","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}');
    assert.equal(sys['iothub-connection-auth-generation-id'], '637388034455888246');
    assert.equal(sys['iothub-message-source'], 'Telemetry');
    assert.equal(sys['dt-subject'], 'thermostat1');
    assert.equal(sys['dt-dataschema'], 'dtmi:com:example:Thermostat;1');
    assert.equal(typeof sys['iothub-enqueuedtime'], 'number', 'a timestamp, which the SDK turns into a number');
    assert.ok(Math.abs((sys['iothub-enqueuedtime'] as number) - Date.now()) < 60_000);
    assert.equal(sys.messageId, 'msg-rich');
    // user-id is binary on the wire; the SDK's systemProperties copy turns the Buffer into a plain object of bytes.
    assert.equal(Buffer.from(Object.values(sys.userId as Record<string, number>)).toString('utf8'), 'user-rich');
    assert.equal(sys.contentEncoding, 'utf-8');
    assert.equal(sys.absoluteExpiryTime, 1_900_000_000_000);
    assert.equal(sys.creationTime, 1_800_000_000_000);
    assert.equal(sys['x-opt-sequence-number'], undefined, 'x-opt-* become top-level fields');
    assert.equal(typeof first!.sequenceNumber, 'number');
    assert.equal(first!.offset, String(first!.sequenceNumber));
    assert.ok(first!.enqueuedTimeUtc instanceof Date);
    assert.equal(first!.partitionKey, undefined);

    assert.deepEqual(second!.body, binary, 'a body that is not JSON arrives as its exact bytes');
    assert.deepEqual(
      events.slice(2).map((e) => e.body),
      Array.from({ length: 20 }, (_, k) => ({ i: k + 2 })),
      'in order',
    );
    for (let k = 1; k < events.length; k++) assert.equal(events[k]!.sequenceNumber, events[k - 1]!.sequenceNumber + 1);
  });

  test('skipParsingBodyAsJson hands over the exact body bytes', async () => {
    const device = deviceFor(1, 'raw');
    await send(device, 1);
    const reader = collect(consumer(), '1', { startPosition: earliestEventPosition, skipParsingBodyAsJson: true });
    const [event] = await reader.waitFor(1);
    await reader.close();
    assert.deepEqual(event!.body, Buffer.from('{"i":0}'));
  });

  test('from latest: only events enqueued after the receiver attached, promptly', async () => {
    const device = deviceFor(3, 'latest');
    await send(device, 3, 0);
    const staged = (await consumer().getPartitionProperties('3')).lastEnqueuedSequenceNumber;
    const reader = collect(consumer(), '3', { startPosition: latestEventPosition });
    // The receiver attaches some time after subscribe(): keep sending until the first event comes through.
    let i = 100;
    while (reader.events.length === 0) {
      await send(device, 1, i++);
      await Promise.race([reader.waitFor(1, 200).catch(() => undefined), sleep(200)]);
    }
    assert.ok(reader.events.every((e) => e.sequenceNumber > staged), 'nothing from before the attach');
    const seen = reader.events.length;
    const t0 = Date.now();
    await send(device, 1, 999);
    const [last] = (await reader.waitFor(seen + 1, 5000)).slice(-1);
    const latency = Date.now() - t0;
    await reader.close();
    assert.deepEqual(last!.body, { i: 999 });
    assert.ok(latency < 500, `an appended event arrived in ${latency} ms`);
  });

  const positioned: Array<[string, (seq: number[], offsets: string[], times: Date[]) => EventPosition, number]> = [
    ['a sequence number (exclusive)', (seq) => ({ sequenceNumber: seq[2]! }), 3],
    ['a sequence number (inclusive)', (seq) => ({ sequenceNumber: seq[2]!, isInclusive: true }), 2],
    ['an offset (exclusive)', (_, offsets) => ({ offset: offsets[1]! }), 2],
    ['an offset (inclusive)', (_, offsets) => ({ offset: offsets[1]!, isInclusive: true }), 1],
    ['an enqueued time (after it)', (_, __, times) => ({ enqueuedOn: times[3]! }), 4],
  ];
  for (const [what, position, firstIndex] of positioned) {
    test(`from ${what}`, async () => {
      const partition = 1;
      const device = deviceFor(partition, `pos-${what.replace(/\W+/g, '-')}`);
      const base = (await consumer().getPartitionProperties(String(partition))).lastEnqueuedSequenceNumber + 1;
      for (let i = 0; i < 6; i++) {
        await server.hub.telemetry.send(device, message(i));
        await sleep(5); // distinct enqueued times
      }
      const stored = await server.log.read(partition, base, 6);
      const startPosition = position(
        stored.map((e) => e.sequenceNumber),
        stored.map((e) => e.offset),
        stored.map((e) => new Date(e.enqueuedTime)),
      );
      const reader = collect(consumer(), String(partition), { startPosition, maxBatchSize: 10 });
      const events = await reader.waitFor(6 - firstIndex);
      await sleep(300);
      await reader.close();
      assert.equal(reader.events.length, 6 - firstIndex, 'nothing before the position');
      assert.deepEqual(events.map((e) => e.sequenceNumber), stored.slice(firstIndex).map((e) => e.sequenceNumber));
      assert.deepEqual(events[0]!.body, { i: firstIndex });
    });
  }

  test('a long backlog with the default batch size of 1 (1 to 3 credits at a time)', async () => {
    const device = deviceFor(2, 'backlog');
    const base = (await consumer().getPartitionProperties('2')).lastEnqueuedSequenceNumber + 1;
    await send(device, 300);
    const reader = collect(consumer(), '2', { startPosition: { sequenceNumber: base, isInclusive: true }, maxBatchSize: 1 });
    const events = await reader.waitFor(300, 30_000);
    await reader.close();
    assert.deepEqual(events.map((e) => (e.body as { i: number }).i), Array.from({ length: 300 }, (_, i) => i));
  });

  test('trackLastEnqueuedEventProperties reports the partition tail', async () => {
    const device = deviceFor(0, 'metric');
    await send(device, 4);
    const tail = await consumer().getPartitionProperties('0');
    const reader = collect(consumer(), '0', { startPosition: earliestEventPosition, trackLastEnqueuedEventProperties: true });
    await reader.waitFor(1);
    await reader.close();
    const last = reader.contexts[0]!.lastEnqueuedEventProperties!;
    assert.equal(last.sequenceNumber, tail.lastEnqueuedSequenceNumber);
    assert.equal(last.offset, tail.lastEnqueuedOffset);
    assert.deepEqual(last.enqueuedOn, tail.lastEnqueuedOnUtc);
    assert.ok(last.retrievedOn instanceof Date && Math.abs(last.retrievedOn.getTime() - Date.now()) < 60_000);
  });

  test('a created consumer group reads, in any case', async () => {
    await server.consumerGroups.create('Readers');
    const device = deviceFor(3, 'cg');
    await send(device, 2);
    const reader = collect(consumer('readers'), '3', { startPosition: earliestEventPosition });
    await reader.waitFor(2);
    await reader.close();
    assert.deepEqual(reader.errors, []);
  });
});

describe('errors the client surfaces', () => {
  test('an unknown consumer group', async () => {
    const reader = collect(consumer('nobody'), '0', { startPosition: earliestEventPosition });
    const err = (await reader.waitForError()) as Error & { code?: string };
    await reader.close();
    assert.equal(err.code, 'ServiceCommunicationError', `${err.name}: ${err.message}`);
    assert.match(err.message, /consumer group "nobody" does not exist/);
  });

  test('an unknown partition', async () => {
    const reader = collect(consumer(), '9', { startPosition: earliestEventPosition });
    const err = (await reader.waitForError()) as Error & { code?: string };
    await reader.close();
    assert.equal(err.code, 'ArgumentOutOfRangeError', `${err.name}: ${err.message}`);
    assert.match(err.message, /partition "9" does not exist/);
  });

  test('a higher owner level takes the partition; a lower one is refused', async () => {
    const device = deviceFor(2, 'epoch');
    await send(device, 1);
    const first = collect(consumer(), '2', { startPosition: earliestEventPosition, ownerLevel: 1 });
    await first.waitFor(1);
    const second = collect(consumer(), '2', { startPosition: latestEventPosition, ownerLevel: 2 });
    const stolen = (await first.waitForError()) as Error & { code?: string };
    assert.equal(stolen.code, 'ReceiverDisconnectedError', `${stolen.name}: ${stolen.message}`);
    assert.match(stolen.message, /epoch 2/);

    await send(device, 1, 50);
    // The new owner reads what comes after it attached.
    for (let i = 51; second.events.length === 0; i++) {
      await Promise.race([second.waitFor(1, 300).catch(() => undefined), sleep(300)]);
      if (second.events.length === 0) await send(device, 1, i);
    }

    const lower = collect(consumer(), '2', { startPosition: latestEventPosition, ownerLevel: 1 });
    const refused = (await lower.waitForError()) as Error & { code?: string };
    assert.equal(refused.code, 'ReceiverDisconnectedError', `${refused.name}: ${refused.message}`);
    assert.match(refused.message, /epoch 2 already exists/);
    await Promise.all([first.close(), second.close(), lower.close()]);
    assert.deepEqual(second.errors, [], 'the owner was not disturbed');
  });
});
