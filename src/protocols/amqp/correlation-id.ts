import rhea, { type Message } from 'rhea';

/**
 * The correlation id of a reply: the request's message id in the AMQP type it came in (callers key pending requests
 * by the exact value). rhea decodes both uuid and binary to a Buffer and re-encodes a Buffer as uuid, which only
 * fits a 16-byte id, so other lengths go back as binary.
 */
export function replyCorrelationId(request: Message): Message['correlation_id'] {
  const id = request.message_id ?? request.correlation_id;
  if (Buffer.isBuffer(id) && id.length !== 16) return rhea.types.wrap_binary(id) as unknown as Buffer;
  return id;
}
