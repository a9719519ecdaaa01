import { randomUUID } from 'node:crypto';
import { connect, Events, headers, type ConnectionOptions, type Msg, type NatsConnection, type Status } from 'nats';
import { BusNoResponder, BusTimeout, type MessageBus } from '../../ports/message-bus.js';
import { decodeResponderError, isErrorReply, NatsResponder } from './nats-responder.js';
import { checkPrefix, encodeSubject } from './subject-encoding.js';

export interface NatsBusOptions {
  /** `nats://127.0.0.1:4222`, or the servers of a cluster. */
  servers: string | string[];
  /** Starts every subject this bus uses; hubs sharing a NATS server must each have their own. Default `lazuli`. */
  prefix?: string;
  /** The connection's name in the server's monitoring. */
  name?: string;
  /** Further client options (credentials, TLS). By default the client reconnects for ever. */
  connection?: Omit<ConnectionOptions, 'servers' | 'name'>;
  /** How long after starting to serve a responder treats a rival claim as possibly crossing its own. Default 1000. */
  takeoverWindowMs?: number;
  /** How long `close` waits for requests being answered here before it drains the connection. Default 5000. */
  closeGraceMs?: number;
  /** Errors nobody awaits: a reply that could not be sent, a subscriber that threw, the connection's async errors. */
  onError?: (err: unknown) => void;
}

/** Marks a notification whose payload is present but empty: on the wire it looks like one without a payload. */
const EMPTY_PAYLOAD_HEADER = 'Lazuli-Empty-Payload';

/**
 * The bus of a node among many, over NATS core. Under `<prefix>`: `note.<subject>` carries notifications,
 * `call.<subject>` requests (served by a queue group of at most one member once takeovers settle), and
 * `takeover.<subject>` responders' claims (see takeover.ts). Subjects are encoded by subject-encoding.ts.
 */
export class NatsBus implements MessageBus {
  /** This node, in its responders' claims. */
  readonly nodeId = randomUUID();
  private readonly prefix: string;
  private readonly takeoverWindowMs: number;
  private readonly closeGraceMs: number;
  private readonly responders = new Map<string, NatsResponder>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly emptyPayload = headers();
  private readonly statuses: AsyncIterable<Status>;
  private readonly report: (err: unknown) => void;
  private serves = 0;
  private closing: Promise<void> | undefined;

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const prefix = checkPrefix(options.prefix ?? 'lazuli');
    const nc = await connect({
      maxReconnectAttempts: -1,
      // Saves an Error (and its stack) per request.
      noAsyncTraces: true,
      ...options.connection,
      servers: options.servers,
      ...(options.name === undefined ? {} : { name: options.name }),
    });
    return new NatsBus(nc, { ...options, prefix });
  }

  private constructor(
    private readonly nc: NatsConnection,
    options: NatsBusOptions & { prefix: string },
  ) {
    this.prefix = options.prefix;
    this.takeoverWindowMs = options.takeoverWindowMs ?? 1000;
    this.closeGraceMs = options.closeGraceMs ?? 5000;
    this.report = options.onError ?? ((err) => console.error('NatsBus:', err));
    this.emptyPayload.set(EMPTY_PAYLOAD_HEADER, '1');
    this.statuses = nc.status();
    void this.watch();
  }

  publish(subject: string, payload?: Buffer): void {
    try {
      if (payload?.length === 0) this.nc.publish(this.subject('note', subject), payload, { headers: this.emptyPayload });
      else this.nc.publish(this.subject('note', subject), payload);
    } catch (err) {
      this.report(err);
    }
  }

  subscribe(subject: string, handler: (payload?: Buffer) => void): () => void {
    const sub = this.nc.subscribe(this.subject('note', subject), {
      callback: (err, msg) => {
        if (err) return this.report(err);
        try {
          handler(payloadOf(msg));
        } catch (thrown) {
          this.report(thrown);
        }
      },
    });
    return () => sub.unsubscribe();
  }

  async request(subject: string, payload: Buffer, timeoutMs: number): Promise<Buffer> {
    let reply: Msg;
    try {
      // The client takes 0 for its default of a second.
      reply = await this.nc.request(this.subject('call', subject), payload, { timeout: Math.max(1, Math.ceil(timeoutMs)) });
    } catch (err) {
      // The server answers "503" at once when no subscription has interest in the subject.
      if (codeOf(err) === '503') throw new BusNoResponder(`nobody serves ${subject}`);
      if (codeOf(err) === 'TIMEOUT') throw new BusTimeout(`no reply on ${subject} within ${timeoutMs} ms`);
      throw err;
    }
    if (isErrorReply(reply)) throw decodeResponderError(reply.data);
    return Buffer.from(reply.data);
  }

  serve(subject: string, handler: (payload: Buffer) => Promise<Buffer>): () => void {
    const previous = this.responders.get(subject);
    const responder: NatsResponder = new NatsResponder({
      nc: this.nc,
      id: `${this.nodeId}/${++this.serves}`,
      callSubject: this.subject('call', subject),
      takeoverSubject: this.subject('takeover', subject),
      takeoverWindowMs: this.takeoverWindowMs,
      handler,
      onYield: () => this.forget(subject, responder),
      track: (work) => this.track(work),
      report: this.report,
    });
    this.responders.set(subject, responder);
    // Only now: the new responder subscribed first, so no request meets a moment without one.
    void previous?.stop();
    return () => {
      this.forget(subject, responder);
      void responder.stop();
    };
  }

  /** Resolves once the server has processed everything this bus sent so far. */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const stopping = [...this.responders.values()].map((responder) => responder.stop());
    this.responders.clear();
    await Promise.all(stopping);
    await this.inflightSettled();
    await this.nc.drain().catch(this.report);
    // The client's status iterators outlive the connection unless stopped.
    (this.statuses as Partial<{ stop(): void }>).stop?.();
  }

  private async inflightSettled(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.closeGraceMs)));
    await Promise.race([Promise.all(this.inflight), grace]);
    clearTimeout(timer);
  }

  private subject(kind: 'note' | 'call' | 'takeover', subject: string): string {
    return `${this.prefix}.${kind}.${encodeSubject(subject)}`;
  }

  private forget(subject: string, responder: NatsResponder): void {
    if (this.responders.get(subject) === responder) this.responders.delete(subject);
  }

  private track(work: Promise<void>): void {
    this.inflight.add(work);
    void work.then(() => this.inflight.delete(work));
  }

  private async watch(): Promise<void> {
    for await (const status of this.statuses) {
      // Claims made while this node was away went unheard, and its own may have: all claim again to settle.
      if (status.type === Events.Reconnect) for (const responder of this.responders.values()) responder.announce();
      else if (status.type === Events.Error) this.report(status.data);
    }
  }
}

function payloadOf(msg: Msg): Buffer | undefined {
  if (msg.data.length > 0) return Buffer.from(msg.data);
  return msg.headers?.has(EMPTY_PAYLOAD_HEADER) ? Buffer.alloc(0) : undefined;
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
}
