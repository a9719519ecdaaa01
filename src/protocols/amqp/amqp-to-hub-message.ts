import rhea, { type Message } from 'rhea';
import { HubError } from '../../domain/errors.js';
import type { HubMessage, MessageProperties, PropertyValue } from '../../domain/message.js';

/** Message format of a batch: one transfer whose data sections each hold a complete encoded message. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;

/** Device-set message annotations the hub keeps; everything else in that section is the hub's to stamp. */
const KEPT_ANNOTATIONS = ['dt-subject', 'iothub-interface-id'] as const;

const DATA_SECTION = 0x75;

interface BodySection {
  typecode: number;
  content: unknown;
  multiple?: boolean;
}

/** A decoded AMQP message; the body is whatever its body sections held. */
export type AmqpMessage = Omit<Message, 'body'> & { body?: unknown };

/**
 * An AMQP telemetry message as the hub carries it (IoT Hub message mapping, see the protocol doc §3.2 and §4).
 * Throws HubError IotHubFormatError for a body that is neither data sections nor an amqp-value of binary or text.
 */
export function toHubMessage(message: AmqpMessage): HubMessage {
  const hub: HubMessage = { body: bodyBytesOf(message.body), properties: propertiesOf(message), applicationProperties: {}, annotations: {} };
  for (const [name, value] of Object.entries(message.application_properties ?? {})) hub.applicationProperties[name] = propertyValue(value);
  const annotations = message.message_annotations ?? {};
  for (const name of KEPT_ANNOTATIONS) {
    const value: unknown = annotations[name];
    if (typeof value === 'string') hub.annotations[name] = value;
  }
  return hub;
}

/** The messages of a batch (format 0x80013700), in order. */
export function decodeBatch(payload: Buffer): HubMessage[] {
  let parts: Buffer[];
  try {
    const envelope = rhea.message.decode(payload);
    parts = dataSectionsOf(envelope.body);
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw formatError(`the batch envelope cannot be decoded: ${(err as Error).message}`);
  }
  if (parts.length === 0) throw formatError('the batch holds no messages');
  return parts.map((part, i) => {
    try {
      return toHubMessage(rhea.message.decode(part) as AmqpMessage);
    } catch (err) {
      if (err instanceof HubError) throw err;
      throw formatError(`message ${i} of the batch cannot be decoded: ${(err as Error).message}`);
    }
  });
}

/** The bytes of a message body: data sections, or an amqp-value of binary or text. IotHubFormatError otherwise. */
export function bodyBytesOf(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (isSection(body) && body.typecode === DATA_SECTION) return Buffer.concat(dataSectionsOf(body));
  throw formatError('the body must be data sections, or an amqp-value holding binary or a string');
}

function dataSectionsOf(body: unknown): Buffer[] {
  if (!isSection(body) || body.typecode !== DATA_SECTION) throw formatError('a batch body must be data sections');
  const contents = body.multiple ? (body.content as unknown[]) : [body.content];
  return contents.map((c) => {
    if (Buffer.isBuffer(c)) return c;
    if (c === null || c === undefined) return Buffer.alloc(0);
    throw formatError('a data section must hold binary');
  });
}

function isSection(body: unknown): body is BodySection {
  return typeof body === 'object' && body !== null && typeof (body as BodySection).typecode === 'number' && 'content' in body;
}

function propertiesOf(m: AmqpMessage): MessageProperties {
  const p: MessageProperties = {};
  const messageId = messageIdText(m.message_id);
  if (messageId !== undefined) p.messageId = messageId;
  const correlationId = messageIdText(m.correlation_id);
  if (correlationId !== undefined) p.correlationId = correlationId;
  if (Buffer.isBuffer(m.user_id)) p.userId = m.user_id.toString('utf8');
  else if (typeof m.user_id === 'string') p.userId = m.user_id;
  if (typeof m.to === 'string') p.to = m.to;
  if (typeof m.content_type === 'string') p.contentType = m.content_type;
  if (typeof m.content_encoding === 'string') p.contentEncoding = m.content_encoding;
  const expiry = timeOf(m.absolute_expiry_time);
  if (expiry !== undefined) p.absoluteExpiryTime = expiry;
  const created = timeOf(m.creation_time);
  if (created !== undefined) p.creationTime = created;
  return p;
}

/** Message ids arrive as string, uuid (a 16-byte Buffer once rhea decodes it), ulong or binary. */
function messageIdText(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'string') return id;
  if (typeof id === 'number') return String(id);
  if (Buffer.isBuffer(id)) return id.length === 16 ? rhea.uuid_to_string(id) : id.toString('hex');
  return String(id);
}

function timeOf(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'number') return value;
  return undefined;
}

function propertyValue(value: unknown): PropertyValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value instanceof Date) return value.getTime();
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

function formatError(message: string): HubError {
  return new HubError('IotHubFormatError', message);
}
