import rhea, { type Message } from 'rhea';
import { openAmqpClient } from './amqp-client.js';
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
  const client = await openAmqpClient(options);
  const { connection } = client;
  const resource = `sb://${options.hostname}/${options.hubName}`;
  try {
    await client.putToken(resource, createSasToken({ resource, keyBase64: options.policyKey, keyName: options.policyName, expiry: Date.now() / 1000 + 24 * 3600 }));
  } catch (err) {
    client.close();
    throw err;
  }
  // From here on a lost connection is the reader's error, not the open's.
  client.lost.catch((err: Error) => options.onError(err));

  for (let partition = 0; partition < options.partitionCount; partition++) {
    const address = `${options.hubName}/ConsumerGroups/${options.consumerGroup}/Partitions/${partition}`;
    const receiver = connection.open_receiver({
      source: { address, filter: { 'apache.org:selector-filter:string': rhea.types.wrap_described(options.filter, 0x468c00000004) } },
      credit_window: 500,
    } as never);
    receiver.on('message', (ctx) => options.onEvent(partition, ctx.message!));
    receiver.on('receiver_error', (ctx) => options.onError(new Error(`partition ${partition}: ${JSON.stringify(ctx.receiver?.error ?? '')}`)));
  }
  return { close: () => client.close() };
}
