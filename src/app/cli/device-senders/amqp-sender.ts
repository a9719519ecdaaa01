import { randomUUID } from 'node:crypto';
import rhea, { type Sender } from 'rhea';
import { openAmqpClient } from '../amqp-client.js';
import type { DeviceEndpoint, DeviceSender } from './device-sender.js';

/** AMQP 1.0 over TLS as the IoT SDKs do it: no SASL, a `$cbs` put-token, then a sender on the events address. */
export async function amqpSender(endpoint: DeviceEndpoint): Promise<DeviceSender> {
  const client = await openAmqpClient(endpoint);
  const { connection } = client;
  try {
    await client.putToken(`${endpoint.hostname}/devices/${encodeURIComponent(endpoint.deviceId)}`, endpoint.token);
  } catch (err) {
    client.close();
    throw err;
  }

  const address = `/devices/${encodeURIComponent(endpoint.deviceId)}/messages/events`;
  const sender: Sender = connection.open_sender({ target: { address } });
  await Promise.race([new Promise((resolve) => sender.once('sendable', resolve)), client.lost]);
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
      const closed = new Promise((resolve) => connection.once('connection_close', resolve));
      client.close();
      await Promise.race([closed, client.lost.catch(() => undefined)]);
    },
  };
}

