import { setTimeout as sleep } from 'node:timers/promises';
import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from 'nats';

/** How long a failed watch waits before it follows its stream again. */
const RETRY_MS = 1000;

/**
 * Follows the appends of every process to a set of partition streams (other hub nodes included), with ordered
 * headers-only consumers starting at new messages: a reader on this node is woken by an event another node stored.
 * A consumer that fails (the stream was recreated, the server restarted) is started again after a second, from new
 * messages; `failed` hears why. Returns the function that stops following.
 */
export function watchAppends(
  js: JetStreamClient,
  streams: readonly string[],
  appended: (partition: number, sequenceNumber: number) => void,
  failed: (err: unknown) => void,
): () => void {
  let stopped = false;
  const running = new Set<ConsumerMessages>();
  const follow = async (stream: string, partition: number): Promise<void> => {
    while (!stopped) {
      let messages: ConsumerMessages | undefined;
      try {
        const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.New, headers_only: true });
        if (stopped) return;
        messages = await consumer.consume();
        running.add(messages);
        if (stopped) return void messages.stop();
        for await (const message of messages) appended(partition, message.seq - 1);
      } catch (err) {
        if (!stopped) failed(err);
      } finally {
        if (messages) running.delete(messages);
      }
      if (!stopped) await sleep(RETRY_MS);
    }
  };
  streams.forEach((stream, partition) => void follow(stream, partition));
  return () => {
    stopped = true;
    for (const messages of running) messages.stop();
  };
}
