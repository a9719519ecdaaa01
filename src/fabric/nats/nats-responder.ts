import { performance } from 'node:perf_hooks';
import { headers, type Msg, type NatsConnection, type Subscription } from 'nats';
import { claimTime, decodeClaim, encodeClaim, reactTo, type Claim } from './takeover.js';

/** Set on a reply that carries the responder's error (JSON name and message) instead of an answer. */
const ERROR_HEADER = 'Lazuli-Bus-Error';

/** Requests on a subject go to one member of this group, so two responders overlapping during a takeover never both answer. */
const QUEUE = 'responder';

/** What the responder's handler threw, as the requester sees it. */
export class BusResponderError extends Error {
  override name = 'BusResponderError';
  constructor(
    message: string,
    /** The `name` of the error the handler threw. */
    readonly remoteName: string,
  ) {
    super(message);
  }
}

export interface ResponderSetup {
  nc: NatsConnection;
  id: string;
  callSubject: string;
  takeoverSubject: string;
  takeoverWindowMs: number;
  handler: (payload: Buffer) => Promise<Buffer>;
  /** Called when another node's claim wins; the responder has stopped by then. */
  onYield: () => void;
  /** Each handler's work, so closing can wait for calls in flight. */
  track: (work: Promise<void>) => void;
  report: (err: unknown) => void;
}

/** One `serve` of one subject on this node: answers requests until stopped or outranked by another node's claim. */
export class NatsResponder {
  private readonly claim: Claim;
  private readonly startedAt = performance.now();
  private readonly takeovers: Subscription;
  private readonly calls: Subscription;
  private stopped = false;
  private draining = Promise.resolve();

  constructor(private readonly setup: ResponderSetup) {
    this.claim = { id: setup.id, at: claimTime(), fresh: true };
    // Listening for claims before announcing ours, so one crossing ours on the wire is heard.
    this.takeovers = setup.nc.subscribe(setup.takeoverSubject, { callback: (err, msg) => (err ? setup.report(err) : this.onClaim(msg)) });
    this.calls = setup.nc.subscribe(setup.callSubject, { queue: QUEUE, callback: (err, msg) => (err ? setup.report(err) : this.onCall(msg)) });
    this.announce(true);
  }

  /** Announces this responder again (after a reconnect, other nodes may have missed its claim or made their own). */
  announce(fresh = false): void {
    try {
      this.setup.nc.publish(this.setup.takeoverSubject, encodeClaim({ ...this.claim, fresh }));
    } catch (err) {
      this.setup.report(err);
    }
  }

  /**
   * Takes no more requests; those already on their way here are still handed to the handler (the subscription
   * drains), and the returned promise resolves once they have been.
   */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.draining = this.drain();
    }
    return this.draining;
  }

  private async drain(): Promise<void> {
    // A closed connection took the subscriptions with it.
    if (this.setup.nc.isClosed()) return;
    try {
      this.takeovers.unsubscribe();
      await this.calls.drain();
    } catch (err) {
      this.setup.report(err);
    }
  }

  private onClaim(msg: Msg): void {
    const heard = decodeClaim(msg.data);
    if (!heard || this.stopped) return;
    switch (reactTo(heard, this.claim, performance.now() - this.startedAt, this.setup.takeoverWindowMs)) {
      case 'yield':
        void this.stop();
        this.setup.onYield();
        return;
      case 'reassert':
        this.announce();
        return;
      case 'ignore':
        return;
    }
  }

  private onCall(msg: Msg): void {
    if (!msg.reply) return;
    const payload = Buffer.from(msg.data);
    const work = Promise.resolve()
      .then(() => this.setup.handler(payload))
      .then(
        (reply) => msg.respond(reply),
        (err: unknown) => msg.respond(encodeError(err), { headers: errorHeaders() }),
      )
      .then(
        (sent) => {
          if (!sent) this.setup.report(new Error(`could not reply to a request on ${this.setup.callSubject}`));
        },
        this.setup.report,
      );
    this.setup.track(work);
  }
}

function encodeError(err: unknown): Buffer {
  const { name, message } = err instanceof Error ? err : { name: 'Error', message: String(err) };
  return Buffer.from(JSON.stringify({ name, message }), 'utf8');
}

function errorHeaders() {
  const h = headers();
  h.set(ERROR_HEADER, '1');
  return h;
}

export function isErrorReply(reply: Msg): boolean {
  return reply.headers?.has(ERROR_HEADER) ?? false;
}

export function decodeResponderError(bytes: Uint8Array): BusResponderError {
  try {
    const { name, message } = JSON.parse(Buffer.from(bytes).toString('utf8')) as { name: unknown; message: unknown };
    return new BusResponderError(String(message), String(name));
  } catch {
    return new BusResponderError('the responder failed', 'Error');
  }
}
