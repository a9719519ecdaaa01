import { randomUUID } from 'node:crypto';
import rhea, { type Connection, type Message, type Sender } from 'rhea';
import type { DeviceEndpoint, DeviceSender } from './device-sender.js';

/** AMQP 1.0 over TLS as the IoT SDKs do it: no SASL, a `$cbs` put-token, then a sender on the events address. */
export async function amqpSender(endpoint: DeviceEndpoint): Promise<DeviceSender> {
  const container = rhea.create_container();
  const connection: Connection = container.connect({
    host: endpoint.host,
    port: endpoint.port,
    transport: 'tls',
    ca: endpoint.ca,
    servername: endpoint.hostname,
    hostname: endpoint.hostname,
    reconnect: false,
  } as never);
  await once(connection, 'connection_open');

  const cbsSender = connection.open_sender({ target: { address: '$cbs' } });
  const cbsReceiver = connection.open_receiver({ source: { address: '$cbs' }, target: { address: 'cbs' } });
  await Promise.all([once(cbsSender, 'sendable'), once(cbsReceiver, 'receiver_open')]);
  const messageId = randomUUID();
  const reply = new Promise<Message>((resolve) => {
    cbsReceiver.on('message', (context) => {
      if (context.message?.correlation_id === messageId) resolve(context.message);
    });
  });
  cbsSender.send({
    message_id: messageId,
    reply_to: 'cbs',
    to: '$cbs',
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: `${endpoint.hostname}/devices/${encodeURIComponent(endpoint.deviceId)}` },
    body: endpoint.token,
  });
  const answer = await reply;
  const status = answer.application_properties?.['status-code'];
  if (status !== 200) {
    connection.close();
    throw new Error(`the hub refused the token (${status}: ${answer.application_properties?.['status-description'] ?? ''})`);
  }

  const address = `/devices/${encodeURIComponent(endpoint.deviceId)}/messages/events`;
  const sender: Sender = connection.open_sender({ target: { address } });
  await once(sender, 'sendable');
  return {
    send(body, properties) {
      return new Promise((resolve, reject) => {
        const delivery = sender.send({ body: rhea.message.data_section(body), application_properties: properties, message_id: randomUUID() });
        const settle = (context: { delivery?: unknown; reason?: { description?: string } }) => {
          if (context.delivery !== delivery) return;
          sender.removeListener('accepted', onAccepted);
          sender.removeListener('rejected', onRejected);
          return context;
        };
        const onAccepted = (context: { delivery?: unknown }) => settle(context) && resolve();
        const onRejected = (context: { delivery?: unknown; delivery_remote_state?: unknown }) =>
          settle(context) && reject(new Error(`the hub rejected the message: ${JSON.stringify((context.delivery as { remote_state?: unknown })?.remote_state ?? '')}`));
        sender.on('accepted', onAccepted);
        sender.on('rejected', onRejected);
      });
    },
    async close() {
      connection.close();
      await once(connection, 'connection_close').catch(() => undefined);
    },
  };
}

function once(emitter: { once(event: string, fn: (context: unknown) => void): unknown }, event: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    emitter.once(event, resolve);
    emitter.once('connection_error', (context) => reject(new Error(`AMQP error: ${JSON.stringify((context as { connection?: { error?: unknown } }).connection?.error ?? '')}`)));
    emitter.once('disconnected', (context) => reject(new Error(`AMQP connection lost: ${String((context as { error?: unknown }).error ?? '')}`)));
  });
}
