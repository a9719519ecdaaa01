import type { QueueKey } from '../c2d-rows.js';

/** What the store remembers of a lock it granted: enough to settle the message without reading its row. */
export interface LockHint {
  deviceId: string;
  moduleId: string;
  sequenceNumber: number;
  ack: string;
  generationId: string;
  messageId: string | undefined;
  until: number;
}

/**
 * The locks this store granted, by token, so that settling a message (once per message) deletes it by key instead of
 * first reading it by token. A hint is never trusted: the delete still checks the token and the lock's end against
 * the row, so a hint whose write rolled back, or whose message was purged, expired or dropped since, only misses.
 * Tokens are never reused, so a hint outlives its lock harmlessly until `forgetEnded` removes it.
 */
export class C2dLockHints {
  readonly #hints = new Map<string, LockHint>();

  remember(token: string, hint: LockHint): void {
    this.#hints.set(token, hint);
  }

  /** The hint for `token` if it was granted on `key`'s queue. */
  take(token: string, key: QueueKey): LockHint | undefined {
    const hint = this.#hints.get(token);
    if (hint === undefined || hint.deviceId !== key.deviceId || hint.moduleId !== key.moduleId) return undefined;
    this.#hints.delete(token);
    return hint;
  }

  forget(token: string): void {
    this.#hints.delete(token);
  }

  /** Drops the hints of locks that ended by `now` (their messages went back to the queue or are gone). */
  forgetEnded(now: number): void {
    for (const [token, hint] of this.#hints) if (hint.until <= now) this.#hints.delete(token);
  }

  get size(): number {
    return this.#hints.size;
  }
}
