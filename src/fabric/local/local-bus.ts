import { BusNoResponder, BusTimeout, type MessageBus } from '../../ports/message-bus.js';

/** The bus of a single node: subscribers and responders in this process, called on a later turn of the event loop. */
export class LocalBus implements MessageBus {
  private readonly subscribers = new Map<string, Set<(payload?: Buffer) => void>>();
  private readonly responders = new Map<string, (payload: Buffer) => Promise<Buffer>>();

  publish(subject: string, payload?: Buffer): void {
    const handlers = this.subscribers.get(subject);
    if (!handlers) return;
    for (const handler of handlers) queueMicrotask(() => handler(payload));
  }

  subscribe(subject: string, handler: (payload?: Buffer) => void): () => void {
    let handlers = this.subscribers.get(subject);
    if (!handlers) this.subscribers.set(subject, (handlers = new Set()));
    // Each subscription gets its own wrapper so the same function may subscribe twice and unsubscribe once.
    const entry = (payload?: Buffer) => handler(payload);
    handlers.add(entry);
    return () => {
      handlers.delete(entry);
      if (handlers.size === 0 && this.subscribers.get(subject) === handlers) this.subscribers.delete(subject);
    };
  }

  request(subject: string, payload: Buffer, timeoutMs: number): Promise<Buffer> {
    const responder = this.responders.get(subject);
    if (!responder) return Promise.reject(new BusNoResponder(`nobody serves ${subject}`));
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BusTimeout(`no reply on ${subject} within ${timeoutMs} ms`)), timeoutMs);
      Promise.resolve()
        .then(() => responder(payload))
        .then(
          (reply) => {
            clearTimeout(timer);
            resolve(reply);
          },
          (err: unknown) => {
            clearTimeout(timer);
            reject(err);
          },
        );
    });
  }

  serve(subject: string, handler: (payload: Buffer) => Promise<Buffer>): () => void {
    this.responders.set(subject, handler);
    return () => {
      if (this.responders.get(subject) === handler) this.responders.delete(subject);
    };
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    this.responders.clear();
  }
}
