import type { Duplex } from 'node:stream';

/**
 * Every MQTT packet and every AMQP frame (rhea writes each with its own `write`) became a TLS record and a syscall
 * of its own. This corks the stream at the first write of an event-loop turn and uncorks it on the next tick: what
 * one turn writes (the acknowledgements of a group commit, a credit's worth of Event Hub transfers) leaves together,
 * in order, with nothing delayed past the turn.
 */
export function coalesceWrites(stream: Duplex): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = ((...args: unknown[]) => {
    if (!corked && !stream.destroyed) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as Duplex['write'];
}
