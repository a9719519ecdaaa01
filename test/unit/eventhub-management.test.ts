import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import rhea, { type Message, type Typed } from 'rhea';
import { TelemetryReader } from '../../src/core/eventhub/telemetry-reader.js';
import { encodeMessage } from '../../src/domain/message-codec.js';
import { answerManagementRequest, type ManagementContext } from '../../src/protocols/eventhub/management-request.js';
import { MemoryTelemetryLog } from '../../src/storage/memory/memory-telemetry-log.js';

const CREATED = 1_700_000_000_000;
let now = 1_795_000_000_000;
let log: MemoryTelemetryLog;
let context: ManagementContext;

beforeEach(() => {
  log = new MemoryTelemetryLog(3, { now: () => now });
  context = { name: 'myhub', isEntity: (n) => n.toLowerCase() === 'myhub', createdAt: CREATED, reader: new TelemetryReader(log) };
});

function request(props: Record<string, unknown>, messageId: unknown = 'req-1'): Message {
  return { body: Buffer.from('[]'), message_id: messageId, reply_to: 'reply-link', application_properties: { operation: 'READ', name: 'myhub', ...props } } as Message;
}

function typeOf(value: unknown): string {
  const name = (value as Typed).type.name;
  return name === 'SmallLong' ? 'Long' : name === 'SmallInt' ? 'Int' : name;
}

/** The reply as the client decodes it off the wire. */
function decoded(reply: Message) {
  return rhea.message.decode(rhea.message.encode(reply));
}

describe('$management READ com.microsoft:eventhub', () => {
  test('answers name, creation time and partitions with Event Hubs types', async () => {
    const reply = await answerManagementRequest(request({ type: 'com.microsoft:eventhub' }), context);
    const props = reply.application_properties as Record<string, unknown>;
    assert.equal(typeOf(props['status-code']), 'Int');
    assert.equal(props['status-description'], 'OK');
    assert.equal(reply.correlation_id, 'req-1');
    assert.equal(reply.to, 'reply-link');
    const body = reply.body as Record<string, unknown>;
    assert.equal(typeOf(body.partition_count), 'Int');
    assert.equal(typeOf(body.created_at), 'Timestamp');
    assert.equal(typeOf(body.partition_ids), 'Array32');
    assert.deepEqual(decoded(reply).body, { name: 'myhub', type: 'com.microsoft:eventhub', created_at: new Date(CREATED), partition_count: 3, partition_ids: ['0', '1', '2'] });
    assert.equal(decoded(reply).application_properties!['status-code'], 200);
  });

  test('the operation and type compare case-insensitively', async () => {
    const reply = await answerManagementRequest(request({ operation: 'read', type: 'COM.MICROSOFT:EVENTHUB' }), context);
    assert.equal(decoded(reply).application_properties!['status-code'], 200);
  });
});

describe('$management READ com.microsoft:partition', () => {
  test('an empty partition', async () => {
    const reply = decoded(await answerManagementRequest(request({ type: 'com.microsoft:partition', partition: '1' }), context));
    assert.deepEqual(reply.body, {
      name: 'myhub',
      type: 'com.microsoft:partition',
      partition: '1',
      begin_sequence_number: 0,
      last_enqueued_sequence_number: -1,
      last_enqueued_offset: '-1',
      last_enqueued_time_utc: new Date(0),
      is_partition_empty: true,
    });
  });

  test('a partition with events', async () => {
    for (let i = 0; i < 3; i++) {
      now += 10;
      await log.append({ partition: 2, payload: encodeMessage({ body: Buffer.from(`e${i}`), properties: {}, applicationProperties: {}, annotations: {} }) });
    }
    const reply = await answerManagementRequest(request({ type: 'com.microsoft:partition', partition: '2' }), context);
    const body = reply.body as Record<string, unknown>;
    for (const field of ['begin_sequence_number', 'last_enqueued_sequence_number']) assert.equal(typeOf(body[field]), 'Long', field);
    assert.equal(typeOf(body.last_enqueued_time_utc), 'Timestamp');
    assert.deepEqual(decoded(reply).body, {
      name: 'myhub',
      type: 'com.microsoft:partition',
      partition: '2',
      begin_sequence_number: 0,
      last_enqueued_sequence_number: 2,
      last_enqueued_offset: '2',
      last_enqueued_time_utc: new Date(now),
      is_partition_empty: false,
    });
  });
});

describe('$management correlation', () => {
  const uuid = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  const cases: Array<[string, unknown, string, unknown]> = [
    ['string', 'id-7', 'Str8', 'id-7'],
    ['ulong', 77, 'SmallUlong', 77],
    ['uuid', uuid, 'Uuid', uuid],
    ['binary', Buffer.from('abc'), 'Vbin8', Buffer.from('abc')],
  ];
  for (const [kind, id, wireType, back] of cases) {
    test(`a ${kind} message-id comes back as a ${kind} correlation-id`, async () => {
      const reply = await answerManagementRequest(request({ type: 'com.microsoft:eventhub' }, id), context);
      const encoded = rhea.message.encode(reply);
      const properties = rhea.message.decode(encoded);
      assert.deepEqual(properties.correlation_id, back);
      // Re-encode the reply's properties section the way the wire has it and look at the field's type.
      const typed = rhea.types.wrap_message_id(reply.correlation_id) as Typed;
      assert.equal(typed.type.name, wireType);
    });
  }

  test('no message-id, no correlation-id', async () => {
    const withoutId = request({ type: 'com.microsoft:eventhub' });
    delete withoutId.message_id;
    const reply = await answerManagementRequest(withoutId, context);
    assert.equal(reply.correlation_id, undefined);
  });
});

describe('$management errors', () => {
  const cases: Array<[string, Record<string, unknown>, number, string, RegExp]> = [
    ['an unknown entity', { type: 'com.microsoft:eventhub', name: 'otherhub' }, 404, 'amqp:not-found', /"otherhub" could not be found/],
    ['an unknown partition', { type: 'com.microsoft:partition', partition: '3' }, 404, 'amqp:not-found', /partition "3" does not exist/],
    ['a partition id that is not one', { type: 'com.microsoft:partition', partition: '01' }, 404, 'amqp:not-found', /"01"/],
    ['a partition READ without a partition', { type: 'com.microsoft:partition' }, 400, 'com.microsoft:argument-error', /no partition id/],
    ['no operation', { operation: undefined, type: 'com.microsoft:eventhub' }, 400, 'com.microsoft:argument-error', /Unsupported operation/],
    ['another operation', { operation: 'CREATE', type: 'com.microsoft:eventhub' }, 400, 'com.microsoft:argument-error', /"CREATE"/],
    ['no name', { name: undefined, type: 'com.microsoft:eventhub' }, 400, 'com.microsoft:argument-error', /no entity name/],
    ['an unknown type', { type: 'com.microsoft:queue' }, 400, 'com.microsoft:argument-error', /"com.microsoft:queue"/],
  ];
  for (const [what, props, status, condition, description] of cases) {
    test(`${what}: ${status} ${condition}`, async () => {
      const reply = await answerManagementRequest(request(props), context);
      const app = reply.application_properties as Record<string, unknown>;
      assert.equal(typeOf(app['status-code']), 'Int');
      assert.equal(decoded(reply).application_properties!['status-code'], status);
      assert.equal(app['error-condition'], condition);
      assert.match(String(app['status-description']), description);
      assert.equal(reply.correlation_id, 'req-1');
    });
  }

  test('a failing log answers 500 amqp:internal-error', async () => {
    log.partitionInfo = async () => {
      throw new Error('disk on fire');
    };
    const reply = await answerManagementRequest(request({ type: 'com.microsoft:partition', partition: '0' }), context);
    const app = decoded(reply).application_properties!;
    assert.equal(app['status-code'], 500);
    assert.equal(app['error-condition'], 'amqp:internal-error');
    assert.doesNotMatch(String(app['status-description']), /disk on fire/, 'internal details stay inside');
  });
});
