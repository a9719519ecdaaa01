// Child process of `npm run bench -- eventhub`: one EventHubConsumerClient subscribed to every partition from the
// earliest event, counting until it has read them all. Its own process so that NODE_EXTRA_CA_CERTS (read at start)
// trusts the bench CA, and so that its CPU is measured apart from the server's.
import { EventHubConsumerClient, earliestEventPosition, type Subscription } from '@azure/event-hubs';

export interface ClientRequest {
  connectionString: string;
  events: number;
  maxBatchSize: number;
  prefetchCount: number;
}

export type ClientReply =
  | { kind: 'subscribed'; at: number }
  | { kind: 'done'; firstAt: number; lastAt: number; received: number; outOfOrder: number; batches: number }
  | { kind: 'error'; message: string };

process.once('message', (raw) => void run(raw as ClientRequest));
process.once('disconnect', () => process.exit(0));

async function run(request: ClientRequest): Promise<void> {
  const client = new EventHubConsumerClient('$Default', request.connectionString);
  const lastSeq = new Map<string, number>();
  let received = 0;
  let outOfOrder = 0;
  let batches = 0;
  let firstAt = 0;
  const send = (reply: ClientReply): void => void process.send!(reply);
  send({ kind: 'subscribed', at: Date.now() });
  let subscription: Subscription | undefined = undefined;
  subscription = client.subscribe(
    {
      processEvents: async (events, context) => {
        if (events.length === 0) return;
        if (received === 0) firstAt = Date.now();
        batches++;
        let previous = lastSeq.get(context.partitionId) ?? -1;
        for (const event of events) {
          if (event.sequenceNumber !== previous + 1) outOfOrder++;
          previous = event.sequenceNumber;
        }
        lastSeq.set(context.partitionId, previous);
        received += events.length;
        if (received >= request.events) {
          const lastAt = Date.now();
          await subscription?.close();
          await client.close();
          process.send!({ kind: 'done', firstAt, lastAt, received, outOfOrder, batches } satisfies ClientReply, () => process.exit(0));
        }
      },
      processError: async (err) => {
        send({ kind: 'error', message: `${err.name}: ${err.message}` });
      },
    },
    { startPosition: earliestEventPosition, maxBatchSize: request.maxBatchSize, prefetchCount: request.prefetchCount, maxWaitTimeInSeconds: 1 },
  );
}
