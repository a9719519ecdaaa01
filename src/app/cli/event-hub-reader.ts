import { randomUUID } from 'node:crypto';
import rhea, { type Connection, type Message } from 'rhea';
import { createSasToken } from '../../domain/sas.js';

export interface EventHubReaderOptions {
  host: string;
  port: number;
  hostname: string;
  ca: string;
  hubName: string;
  consumerGroup: string;
  policyName: string;
  policyKey: string;
  partitionCount: number;
  /** A selector filter, as the Event Hubs clients write them. */
  filter: string;
  onEvent(partition: number, message: Message): void;
  onError(error: Error): void;
}

/** Reads every partition of the Event Hub-compatible endpoint over AMQP, as `@azure/event-hubs` would. */
export async function openEventHubReader(options: EventHubReaderOptions): Promise<{ close(): void }> {
  const container = rhea.create_container();
  const connection: Connection = container.connect({
    host: options.host,
    port: options.port,
    transport: 'tls',
    ca: options.ca,
    servername: options.hostname,
    hostname: options.hostname,
    reconnect: false,
  } as never);
  let opened = false;
  const lost = new Promise<never>((_, reject) => {
    connection.on('connection_error', (ctx) => reject(new Error(`AMQP connection error: ${JSON.stringify(ctx.connection.error ?? '')}`)));
    connection.on('disconnected', (ctx) => reject(new Error(`AMQP connection lost${ctx.error ? `: ${String(ctx.error)}` : ''}`)));
  });
  // Before the reader is up a failure rejects the open; after, it goes to onError.
  lost.catch((err: Error) => opened && options.onError(err));
  await Promise.race([new Promise((resolve) => connection.once('connection_open', resolve)), lost]);

  const cbs = connection.open_sender({ target: { address: '$cbs' } });
  const replies = connection.open_receiver({ source: { address: '$cbs' }, target: { address: 'cbs' } });
  const pending = new Map<string, (m: Message) => void>();
  replies.on('message', (ctx) => pending.get(String(ctx.message?.correlation_id))?.(ctx.message!));
  await new Promise((resolve) => cbs.once('sendable', resolve));

  const resource = `sb://${options.hostname}/${options.hubName}`;
  const token = createSasToken({ resource, keyBase64: options.policyKey, keyName: options.policyName, expiry: Date.now() / 1000 + 24 * 3600 });
  const id = randomUUID();
  const reply = new Promise<Message>((resolve) => pending.set(id, resolve));
  cbs.send({ message_id: id, reply_to: 'cbs', application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: resource }, body: token });
  const answer = await Promise.race([reply, lost]);
  if (answer.application_properties?.['status-code'] !== 200) {
    connection.close();
    throw new Error(`the hub refused the token: ${answer.application_properties?.['status-description'] ?? answer.application_properties?.['status-code']}`);
  }

  for (let partition = 0; partition < options.partitionCount; partition++) {
    const address = `${options.hubName}/ConsumerGroups/${options.consumerGroup}/Partitions/${partition}`;
    const receiver = connection.open_receiver({
      source: { address, filter: { 'apache.org:selector-filter:string': rhea.types.wrap_described(options.filter, 0x468c00000004) } },
      credit_window: 500,
    } as never);
    receiver.on('message', (ctx) => options.onEvent(partition, ctx.message!));
    receiver.on('receiver_error', (ctx) => options.onError(new Error(`partition ${partition}: ${JSON.stringify(ctx.receiver?.error ?? '')}`)));
  }
  opened = true;
  return { close: () => connection.close() };
}
