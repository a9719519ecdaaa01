import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from 'nats';

/**
 * Follows the appends of every process to a set of partition streams (other hub nodes included), with ordered
 * headers-only consumers starting at new messages: a reader on this node is woken by an event another node stored.
 * Returns the function that stops following.
 */
export function watchAppends(
  js: JetStreamClient,
  streams: readonly string[],
  appended: (partition: number, sequenceNumber: number) => void,
  failed: (err: unknown) => void,
): () => void {
  let stopped = false;
  const running: ConsumerMessages[] = [];
  streams.forEach((stream, partition) => {
    void (async () => {
      try {
        const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.New, headers_only: true });
        if (stopped) return;
        const messages = await consumer.consume();
        running.push(messages);
        if (stopped) return void messages.stop();
        for await (const message of messages) appended(partition, message.seq - 1);
      } catch (err) {
        if (!stopped) failed(err);
      }
    })();
  });
  return () => {
    stopped = true;
    for (const messages of running) messages.stop();
  };
}
