import type { MessageBus } from '../../ports/message-bus.js';

/** The bus of a single node: subscribers in this process, called on the next turn of the event loop. */
export class LocalBus implements MessageBus {
  private readonly subscribers = new Map<string, Set<() => void>>();

  publish(subject: string): void {
    const handlers = this.subscribers.get(subject);
    if (!handlers) return;
    for (const handler of handlers) queueMicrotask(handler);
  }

  subscribe(subject: string, handler: () => void): () => void {
    let handlers = this.subscribers.get(subject);
    if (!handlers) this.subscribers.set(subject, (handlers = new Set()));
    // Each subscription gets its own wrapper so the same function may subscribe twice and unsubscribe once.
    const entry = () => handler();
    handlers.add(entry);
    return () => {
      handlers.delete(entry);
      if (handlers.size === 0 && this.subscribers.get(subject) === handlers) this.subscribers.delete(subject);
    };
  }

  async close(): Promise<void> {
    this.subscribers.clear();
  }
}
