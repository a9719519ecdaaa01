import rhea, { type Message } from 'rhea';
import type { TelemetryReader } from '../../core/eventhub/telemetry-reader.js';

const { types } = rhea;

const STRING_ARRAY = 0xa1; // str8-utf8 elements

export interface ManagementContext {
  /** The entity name READs report (the hub name). */
  name: string;
  /** Whether a request's `name` is this entity (case-insensitive hub name, `messages/events`). */
  isEntity(name: string): boolean;
  /** Milliseconds since the epoch: the hub's creation time. */
  createdAt: number;
  reader: TelemetryReader;
}

class ManagementError extends Error {
  constructor(
    readonly status: number,
    readonly condition: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Answers a `$management` request the way Event Hubs does: READ of `com.microsoft:eventhub` or
 * `com.microsoft:partition`. The reply's correlation-id is the request's message-id with the same AMQP type (the
 * clients key their pending requests by the exact value); `status-code` is an AMQP int. Failures answer 404
 * (`amqp:not-found`), 400 (`com.microsoft:argument-error`) or 500 (`amqp:internal-error`) with `error-condition`.
 */
export async function answerManagementRequest(request: Message, context: ManagementContext): Promise<Message> {
  const reply = (status: number, description: string, body?: Record<string, unknown>, condition?: string): Message => {
    const out: Record<string, unknown> & { body: unknown } = {
      application_properties: {
        'status-code': types.wrap_int(status),
        'status-description': description,
        ...(condition === undefined ? {} : { 'error-condition': condition }),
      },
      body: body ?? null,
    };
    if (request.message_id !== undefined && request.message_id !== null) out.correlation_id = sameTypeId(request.message_id);
    if (typeof request.reply_to === 'string') out.to = request.reply_to;
    return out as Message;
  };
  try {
    return reply(200, 'OK', await read(request, context));
  } catch (err) {
    if (err instanceof ManagementError) return reply(err.status, err.message, undefined, err.condition);
    return reply(500, 'The hub failed to read the telemetry log', undefined, 'amqp:internal-error');
  }
}

async function read(request: Message, context: ManagementContext): Promise<Record<string, unknown>> {
  const props = (request.application_properties ?? {}) as Record<string, unknown>;
  const operation = props.operation;
  if (typeof operation !== 'string' || operation.toUpperCase() !== 'READ') {
    throw new ManagementError(400, 'com.microsoft:argument-error', `Unsupported operation "${String(operation)}": this endpoint answers READ`);
  }
  const name = props.name;
  if (typeof name !== 'string') throw new ManagementError(400, 'com.microsoft:argument-error', 'The request has no entity name');
  if (!context.isEntity(name)) throw new ManagementError(404, 'amqp:not-found', `The messaging entity "${name}" could not be found`);

  switch (typeof props.type === 'string' ? props.type.toLowerCase() : undefined) {
    case 'com.microsoft:eventhub': {
      const ids = context.reader.partitionIds();
      return {
        name: context.name,
        type: 'com.microsoft:eventhub',
        created_at: types.wrap_timestamp(context.createdAt),
        partition_count: types.wrap_int(ids.length),
        partition_ids: types.wrap_array(ids, STRING_ARRAY, undefined),
      };
    }
    case 'com.microsoft:partition': {
      const id = props.partition;
      if (typeof id !== 'string') throw new ManagementError(400, 'com.microsoft:argument-error', 'The request has no partition id');
      if (!context.reader.partitionIds().includes(id)) {
        throw new ManagementError(404, 'amqp:not-found', `The partition "${id}" does not exist: ${context.name} has partitions ${context.reader.partitionIds().join(', ')}`);
      }
      const info = await context.reader.partitionInfo(Number(id));
      return {
        name: context.name,
        type: 'com.microsoft:partition',
        partition: id,
        begin_sequence_number: types.wrap_long(info.beginningSequenceNumber),
        last_enqueued_sequence_number: types.wrap_long(info.lastEnqueuedSequenceNumber),
        last_enqueued_offset: info.lastEnqueuedOffset,
        last_enqueued_time_utc: types.wrap_timestamp(info.lastEnqueuedTime),
        is_partition_empty: info.isEmpty,
      };
    }
    default:
      throw new ManagementError(400, 'com.microsoft:argument-error', `Unsupported entity type "${String(props.type)}": expected com.microsoft:eventhub or com.microsoft:partition`);
  }
}

/**
 * rhea decodes string, ulong, uuid and binary message ids to string, number, Buffer and Buffer. Strings and numbers
 * re-encode as they came; a 16-byte Buffer goes back as a uuid (what clients use), any other as binary.
 */
function sameTypeId(id: unknown): unknown {
  if (Buffer.isBuffer(id)) return id.length === 16 ? types.wrap_uuid(id) : types.wrap_binary(id);
  return id;
}
