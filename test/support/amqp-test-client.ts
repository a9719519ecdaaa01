import { randomUUID } from 'node:crypto';
import rhea, { type Connection, type EventContext, type Message, type Sender } from 'rhea';

/** Resolves with the next `event` of a rhea emitter, or fails after `ms`. */
export function once(emitter: { once(event: string, fn: (ctx: EventContext) => void): unknown }, event: string, ms = 5000): Promise<EventContext> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (ctx) => {
      clearTimeout(timer);
      resolve(ctx);
    });
  });
}

/** A raw rhea client connection over TLS to a test hub on 127.0.0.1, not yet open; errors are the test's to check. */
export function connectRaw(port: number, ca: string, options: object = {}): Connection {
  const connection = rhea.create_container().connect({
    host: '127.0.0.1', port, transport: 'tls', ca, servername: 'localhost', hostname: 'localhost', reconnect: false, ...options,
  } as never);
  connection.on('error', () => undefined);
  connection.on('disconnected', () => undefined);
  return connection;
}

export async function openRaw(port: number, ca: string, options: object = {}): Promise<Connection> {
  const connection = connectRaw(port, ca, options);
  await once(connection, 'connection_open');
  return connection;
}

type CbsLinks = { sender: Sender; replies: Map<string, (m: Message) => void> };
const cbsLinks = new WeakMap<Connection, Promise<CbsLinks>>();

/** The connection's `$cbs` pair, attached on first use as the IoT SDKs do (reply-to `cbs`). */
function cbs(connection: Connection): Promise<CbsLinks> {
  let links = cbsLinks.get(connection);
  if (!links) {
    const sender = connection.open_sender({ target: { address: '$cbs' } });
    const receiver = connection.open_receiver({ source: { address: '$cbs' }, target: { address: 'cbs' } });
    const replies = new Map<string, (m: Message) => void>();
    receiver.on('message', (ctx: EventContext) => replies.get(String(ctx.message?.correlation_id))?.(ctx.message!));
    links = Promise.all([once(sender, 'sendable'), once(receiver, 'receiver_open')]).then(() => ({ sender, replies }));
    cbsLinks.set(connection, links);
  }
  return links;
}

/** A `$cbs` put-token; resolves with the reply. `messageId` may be a string or a uuid (a 16-byte Buffer). */
export async function putToken(connection: Connection, name: string, token: string, extra: { messageId?: string | Buffer; type?: string } = {}): Promise<Message> {
  const { sender, replies } = await cbs(connection);
  const messageId = extra.messageId ?? randomUUID();
  const reply = new Promise<Message>((resolve) => replies.set(String(messageId), resolve));
  sender.send({
    message_id: messageId,
    reply_to: 'cbs',
    application_properties: { operation: 'put-token', type: extra.type ?? 'servicebus.windows.net:sastoken', name },
    body: token,
  });
  return reply;
}
