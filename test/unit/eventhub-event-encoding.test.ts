import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import rhea, { type Typed } from 'rhea';
import type { ReadEvent } from '../../src/core/eventhub/telemetry-reader.js';
import { encodeEventMessage } from '../../src/protocols/eventhub/event-encoding.js';

const BODY = Buffer.from([0x00, 0xff, 0x7b, 0x22, 0x0a, 0x80]);
const AUTH = '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}';

function readEvent(overrides: Partial<ReadEvent['event']> = {}): ReadEvent {
  return {
    event: { partition: 2, sequenceNumber: 41, offset: '41', enqueuedTime: 1_795_688_666_001, payload: Buffer.alloc(0), ...overrides },
    message: {
      body: BODY,
      properties: {
        messageId: 'msg-1',
        correlationId: 'corr-1',
        userId: 'user-1',
        to: '/devices/d1/messages/events',
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        absoluteExpiryTime: 1_795_688_700_000,
        creationTime: 1_800_000_000_000,
      },
      applicationProperties: { level: 'high', 'odd chars': 'a&b=c/d', count: 3, big: 70000, negative: -5, huge: 2 ** 40, ratio: 0.5, flag: true, nothing: null },
      annotations: {
        'iothub-connection-device-id': 'd1',
        'iothub-connection-auth-method': AUTH,
        'iothub-connection-auth-generation-id': '637388034455888246',
        'iothub-enqueuedtime': 1_795_688_666_000,
        'iothub-message-source': 'Telemetry',
      },
    },
  };
}

/** Every section of an encoded message as rhea reads it off the wire, types included, keyed by descriptor. */
function sections(encoded: Buffer): Map<number, Typed> {
  // rhea's typings leave its Reader off `types`.
  const { Reader } = rhea.types as unknown as { Reader: new (buffer: Buffer) => { remaining(): number; read(): Typed } };
  const reader = new Reader(encoded);
  const out = new Map<number, Typed>();
  while (reader.remaining()) {
    const section = reader.read();
    out.set(Number(section.descriptor.value), section);
  }
  return out;
}

/** The AMQP type of each value of a map section, by key; long and int have compact encodings of the same type. */
function mapTypes(section: Typed | undefined): Record<string, string> {
  const items = section!.value as Typed[];
  const types: Record<string, string> = {};
  for (let i = 0; i < items.length; i += 2) types[String(items[i]!.value)] = canonical(items[i + 1]!.type.name);
  return types;
}

function canonical(name: string): string {
  return ({ SmallLong: 'Long', SmallInt: 'Int', SmallUint: 'Uint', Uint0: 'Uint', SmallUlong: 'Ulong', Str32: 'Str', Str8: 'Str', Sym8: 'Sym', Sym32: 'Sym', Vbin8: 'Binary', Vbin32: 'Binary', True: 'Boolean', False: 'Boolean' } as Record<string, string>)[name] ?? name;
}

describe('an event as the Event Hub-compatible endpoint sends it', () => {
  test('the body is one data section with the exact bytes', () => {
    const decoded = rhea.message.decode(encodeEventMessage(readEvent()));
    assert.equal(decoded.body.typecode, 0x75, 'a data section, not amqp-value');
    assert.equal(decoded.body.multiple, undefined);
    assert.deepEqual(decoded.body.content, BODY);
  });

  test('a body over 255 bytes', () => {
    const read = readEvent();
    read.message.body = Buffer.alloc(70_000, 7);
    assert.deepEqual(rhea.message.decode(encodeEventMessage(read)).body.content, read.message.body);
  });

  test('annotations, properties and application properties decode to what was stored', () => {
    const decoded = rhea.message.decode(encodeEventMessage(readEvent({ partitionKey: 'pk-1' })));
    assert.deepEqual(decoded.message_annotations, {
      'iothub-connection-device-id': 'd1',
      'iothub-connection-auth-method': AUTH,
      'iothub-connection-auth-generation-id': '637388034455888246',
      'iothub-enqueuedtime': new Date(1_795_688_666_000),
      'iothub-message-source': 'Telemetry',
      'x-opt-sequence-number': 41,
      'x-opt-offset': '41',
      'x-opt-enqueued-time': new Date(1_795_688_666_001),
      'x-opt-partition-key': 'pk-1',
    });
    assert.deepEqual(decoded.application_properties, { level: 'high', 'odd chars': 'a&b=c/d', count: 3, big: 70000, negative: -5, huge: 2 ** 40, ratio: 0.5, flag: true, nothing: null });
    assert.equal(decoded.message_id, 'msg-1');
    assert.equal(decoded.correlation_id, 'corr-1');
    assert.deepEqual(decoded.user_id, Buffer.from('user-1'));
    assert.equal(decoded.content_type, 'application/json');
    assert.equal(decoded.content_encoding, 'utf-8');
    assert.deepEqual(decoded.absolute_expiry_time, new Date(1_795_688_700_000));
    assert.deepEqual(decoded.creation_time, new Date(1_800_000_000_000));
    assert.equal(decoded.to, undefined, 'IoT Hub does not pass `to` on');
    assert.equal(decoded.delivery_annotations, undefined, 'no runtime metric unless asked');
  });

  test('every value has the AMQP type the .NET and C clients cast to', () => {
    const s = sections(encodeEventMessage(readEvent({ partitionKey: 'pk-1' })));
    assert.deepEqual([...s.keys()], [0x72, 0x73, 0x74, 0x75], 'message annotations, properties, application properties, data');
    assert.equal(canonical(s.get(0x72)!.type.name), 'Map32');
    assert.deepEqual(mapTypes(s.get(0x72)), {
      'iothub-connection-device-id': 'Str',
      'iothub-connection-auth-method': 'Str',
      'iothub-connection-auth-generation-id': 'Str',
      'iothub-enqueuedtime': 'Timestamp',
      'iothub-message-source': 'Str',
      'x-opt-sequence-number': 'Long',
      'x-opt-offset': 'Str',
      'x-opt-enqueued-time': 'Timestamp',
      'x-opt-partition-key': 'Str',
    });
    const annotationKeys = (s.get(0x72)!.value as Typed[]).filter((_, i) => i % 2 === 0).map((k) => canonical(k.type.name));
    assert.ok(annotationKeys.every((t) => t === 'Sym'), 'annotation keys are symbols');
    assert.deepEqual(mapTypes(s.get(0x74)), { level: 'Str', 'odd chars': 'Str', count: 'Uint', big: 'Uint', negative: 'Int', huge: 'Ulong', ratio: 'Double', flag: 'Boolean', nothing: 'Null' });
    const properties = (s.get(0x73)!.value as Typed[]).map((v) => canonical(v.type.name));
    assert.deepEqual(properties, ['Str', 'Binary', 'Null', 'Null', 'Null', 'Str', 'Sym', 'Sym', 'Timestamp', 'Timestamp']);
    assert.equal(canonical(s.get(0x75)!.type.name), 'Binary');
  });

  test('sequence numbers beyond 32 bits and long strings stay exact', () => {
    const read = readEvent({ sequenceNumber: 2 ** 40 + 3, offset: String(2 ** 40 + 3), enqueuedTime: 0 });
    read.message.annotations['iothub-connection-device-id'] = 'ü'.repeat(200);
    const decoded = rhea.message.decode(encodeEventMessage(read));
    assert.equal(decoded.message_annotations!['x-opt-sequence-number'], 2 ** 40 + 3);
    assert.deepEqual(decoded.message_annotations!['x-opt-enqueued-time'], new Date(0));
    assert.equal(decoded.message_annotations!['iothub-connection-device-id'], 'ü'.repeat(200));
  });

  test('only the properties present are sent; none at all means no properties section', () => {
    const read = readEvent();
    read.message.properties = { contentType: 'text/plain' };
    const partial = sections(encodeEventMessage(read));
    assert.deepEqual((partial.get(0x73)!.value as Typed[]).map((v) => canonical(v.type.name)), ['Null', 'Null', 'Null', 'Null', 'Null', 'Null', 'Sym']);
    read.message.properties = {};
    const none = encodeEventMessage(read);
    assert.equal(sections(none).has(0x73), false);
    const decoded = rhea.message.decode(none);
    for (const field of ['message_id', 'correlation_id', 'user_id', 'content_type', 'content_encoding', 'absolute_expiry_time', 'creation_time']) {
      assert.equal(decoded[field], undefined, field);
    }
  });

  test('the runtime metric adds the last enqueued event as delivery annotations', () => {
    const info = { partition: 2, beginningSequenceNumber: 0, lastEnqueuedSequenceNumber: 99, lastEnqueuedOffset: '99', lastEnqueuedTime: 1_795_688_999_000, isEmpty: false };
    const encoded = encodeEventMessage(readEvent(), { info, retrievedAt: 1_795_689_000_000 });
    const s = sections(encoded);
    assert.equal([...s.keys()][0], 0x71, 'delivery annotations come first');
    assert.deepEqual(mapTypes(s.get(0x71)), {
      last_enqueued_sequence_number: 'Long',
      last_enqueued_offset: 'Str',
      last_enqueued_time_utc: 'Timestamp',
      runtime_info_retrieval_time_utc: 'Timestamp',
    });
    assert.deepEqual(rhea.message.decode(encoded).delivery_annotations, {
      last_enqueued_sequence_number: 99,
      last_enqueued_offset: '99',
      last_enqueued_time_utc: new Date(1_795_688_999_000),
      runtime_info_retrieval_time_utc: new Date(1_795_689_000_000),
    });
  });

  test('negative and large numbers in every width', () => {
    const read = readEvent({ sequenceNumber: -1 });
    const values = { a: 0, b: -128, c: -129, d: -2_147_483_648, e: 255, f: 256, g: 4_294_967_295, h: -(2 ** 40) - 7, i: -(2 ** 52), j: 2 ** 52 + 1 };
    read.message.applicationProperties = values;
    const decoded = rhea.message.decode(encodeEventMessage(read));
    assert.deepEqual(decoded.application_properties, values);
    assert.equal(decoded.message_annotations!['x-opt-sequence-number'], -1);
  });
});
