import { randomUUID } from 'node:crypto';
import rhea, { type Connection, type Message } from 'rhea';

export interface AmqpClientOptions {
  host: string;
  port: number;
  /** The hub's host name: TLS server name and AMQP open hostname. */
  hostname: string;
  ca: string;
}

export interface AmqpClient {
  connection: Connection;
  /** Rejects once the connection fails or is lost; handle it, or the rejection is reported as unhandled. */
  lost: Promise<never>;
  /** A `$cbs` put-token, as the IoT and Event Hubs SDKs send it; rejects unless the hub answers 200. */
  putToken(audience: string, token: string): Promise<void>;
  close(): void;
}

/** An AMQP 1.0 connection over TLS without SASL, and the `$cbs` node the CLI's clients authorise through. */
export async function openAmqpClient(options: AmqpClientOptions): Promise<AmqpClient> {
  const connection: Connection = rhea.create_container().connect({
    host: options.host,
    port: options.port,
    transport: 'tls',
    ca: options.ca,
    servername: options.hostname,
    hostname: options.hostname,
    reconnect: false,
  } as never);
  const lost = new Promise<never>((_, reject) => {
    connection.on('connection_error', (ctx) => reject(new Error(`AMQP connection error: ${JSON.stringify(ctx.connection.error ?? '')}`)));
    connection.on('disconnected', (ctx) => reject(new Error(`AMQP connection lost${ctx.error ? `: ${String(ctx.error)}` : ''}`)));
  });
  lost.catch(() => undefined); // callers that care race against it
  await Promise.race([new Promise((resolve) => connection.once('connection_open', resolve)), lost]);

  const cbs = connection.open_sender({ target: { address: '$cbs' } });
  const replies = connection.open_receiver({ source: { address: '$cbs' }, target: { address: 'cbs' } });
  const pending = new Map<string, (m: Message) => void>();
  replies.on('message', (ctx) => pending.get(String(ctx.message?.correlation_id))?.(ctx.message!));
  await Promise.race([new Promise((resolve) => cbs.once('sendable', resolve)), lost]);

  return {
    connection,
    lost,
    async putToken(audience, token) {
      const id = randomUUID();
      const reply = new Promise<Message>((resolve) => pending.set(id, resolve));
      cbs.send({ message_id: id, reply_to: 'cbs', application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience }, body: token });
      const answer = await Promise.race([reply, lost]);
      pending.delete(id);
      const status = answer.application_properties?.['status-code'];
      if (status !== 200) throw new Error(`the hub refused the token (${status}: ${answer.application_properties?.['status-description'] ?? ''})`);
    },
    close: () => connection.close(),
  };
}
