import type { MessageBus } from '../../ports/message-bus.js';

/** Between tries, a call waits this long at most: notifications between nodes may be lost. */
const RETRY_MS = 100;

/**
 * Waiting for a device to start serving method calls: wakes on the "ready" notification, or after a short while
 * regardless, since a notification may have been lost or may have come just before the wait began.
 */
export class ResponderWait {
  private readonly unsubscribe: () => void;
  private wake: (() => void) | undefined;
  private notified = false;

  constructor(bus: MessageBus, subject: string) {
    this.unsubscribe = bus.subscribe(subject, () => {
      this.notified = true;
      this.wake?.();
    });
  }

  /** Resolves on the next notification, or after at most `maxMs` (and never more than the retry interval). */
  next(maxMs: number): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.notified = false;
        resolve();
      };
      const timer = setTimeout(done, Math.min(maxMs, RETRY_MS));
      // A call waiting for its device must not hold a stopping hub's process open.
      timer.unref();
      this.wake = done;
    });
  }

  stop(): void {
    this.wake = undefined;
    this.unsubscribe();
  }
}
