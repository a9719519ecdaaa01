import type { Duplex } from 'node:stream';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { DeviceIdentity } from '../../domain/device-identity.js';
import { isHubError } from '../../domain/errors.js';
import type { HubMessage } from '../../domain/message.js';
import { C2dDelivery } from './c2d-delivery.js';
import { TwinDesiredNotifications } from './twin-desired.js';
import { dispatchPacket } from './handlers/index.js';
import { InflightPublishes } from './inflight-publishes.js';
import type { PropertyBagEntry } from './property-bag.js';
import { KeepAlive } from './keep-alive.js';
import { MethodCalls } from './method-calls.js';
import type { MqttContext } from './mqtt-context.js';
import type { MqttSession } from './mqtt-session.js';
import { publishWill } from './will.js';
import { coalesceWrites } from '../coalesced-writes.js';

/** Why a connection ended; it decides the log level and whether the will is published. */
export type CloseCause =
  /** The client sent DISCONNECT. */
  | 'client-disconnect'
  /** The network connection ended or failed without a DISCONNECT. */
  | 'connection-lost'
  /** The client broke an MQTT or IoT Hub rule, or sent what the hub refuses (MQTT has no other way to say so). */
  | 'protocol-error'
  | 'keep-alive-timeout'
  | 'token-expired'
  /** The hub failed to serve the connection (storage error). */
  | 'hub-error'
  | 'connect-refused'
  /** The hub ended it: the identity was disabled or deleted, or a new connection replaced this one. */
  | 'hub'
  | 'shutdown';

/**
 * [MQTT-3.1.2-8]: the will goes out when the client's connection fails: lost, broken rules, silence. Not after
 * DISCONNECT, nor when the hub ended the connection itself (identity disabled or deleted, connection replaced,
 * token expired, shutdown, a failure of the hub).
 */
const PUBLISHES_WILL: ReadonlySet<CloseCause> = new Set(['connection-lost', 'protocol-error', 'keep-alive-timeout']);
const LOG_LEVEL: Readonly<Record<CloseCause, 'info' | 'warn' | 'error'>> = {
  'client-disconnect': 'info',
  'connection-lost': 'info',
  'protocol-error': 'warn',
  'keep-alive-timeout': 'warn',
  'token-expired': 'info',
  'hub-error': 'error',
  'connect-refused': 'warn',
  hub: 'info',
  shutdown: 'info',
};

// mqtt-packet reports a CONNECT of a protocol level it does not know only through this message.
const UNKNOWN_PROTOCOL_LEVEL = 'Invalid protocol version';

let nextId = 0;

/**
 * One MQTT network connection: a parser over the stream, the state (awaiting CONNECT, connecting, connected,
 * closed), and the connection's timers, publishes in flight both ways and session. Packets go to one handler per type
 * (handlers/); this class owns only the stream and the life cycle.
 */
export class MqttConnection {
  readonly id = `mqtt-${++nextId}`;
  log: Logger;
  state: 'awaiting-connect' | 'connecting' | 'connected' | 'closed' = 'awaiting-connect';
  identity: DeviceIdentity | undefined;
  session: MqttSession | undefined;
  /**
   * The telemetry topic this connection last published to, with its property bag decoded: devices repeat their
   * topic, and a topic that passed the checks once passes them again (the identity is fixed per connection).
   */
  lastTelemetryTopic: { topic: string; bag: readonly PropertyBagEntry[] } | undefined;
  /** The will to publish as telemetry on an abnormal close, already mapped to a message. */
  will: HubMessage | undefined;
  readonly keepAlive: KeepAlive;
  readonly inflight: InflightPublishes;
  /** Cloud-to-device messages to the client, once it is a device with a C2D subscription. */
  readonly c2d = new C2dDelivery(this);
  /** Direct method calls to the client, once it holds a methods subscription. */
  readonly methods = new MethodCalls(this);
  readonly twinDesired = new TwinDesiredNotifications(this);
  readonly #parser = createParser({ protocolVersion: 4 });
  /** Packets that arrived while the CONNECT was being processed; handled once it is accepted. */
  #pending: Packet[] = [];
  readonly #cleanups: Array<() => void> = [];

  constructor(
    readonly stream: Duplex,
    readonly ctx: MqttContext,
  ) {
    this.log = ctx.log.child({ connId: this.id });
    // The PUBACKs of one group commit (or a burst of deliveries) leave as one TLS record, not one each.
    coalesceWrites(stream);
    const settings = ctx.settings;
    this.keepAlive = new KeepAlive(settings.now, () => this.inflight.count > 0);
    this.inflight = new InflightPublishes({
      limit: settings.maxInflightPublishes,
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      acknowledge: (bytes) => this.writeBytes(bytes),
      failed: (err) => {
        // MessageTooLarge and the like are the client's doing; anything else is the hub failing.
        const cause = isHubError(err) && err.status < 500 ? 'protocol-error' : 'hub-error';
        this.close(cause, `the hub did not accept a message: ${describe(err)}`, cause === 'hub-error' ? { err } : {});
      },
    });
    this.#parser.on('packet', (packet: Packet) => this.#receive(packet));
    this.#parser.on('error', (err: Error) => this.#malformed(err));
    stream.on('data', (chunk: Buffer) => this.#read(chunk));
    stream.on('error', (err) => this.close('connection-lost', `network error: ${err.message}`));
    stream.on('end', () => this.close('connection-lost', 'the client closed the network connection'));
    stream.on('close', () => this.close('connection-lost', 'the network connection closed'));
    this.keepAlive.start(settings.connectTimeoutMs, () => this.close('protocol-error', 'no CONNECT in time'));
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Registers what to undo when the connection closes (timers, the connection registry entry). */
  onClose(cleanup: () => void): void {
    if (this.state === 'closed') cleanup();
    else this.#cleanups.push(cleanup);
  }

  /** A CONNECT is being processed: reading pauses until it is accepted, so what queues up meanwhile stays small. */
  connecting(): void {
    this.state = 'connecting';
    this.stream.pause();
  }

  /** The CONNECT was accepted (CONNACK written): start serving, first the packets that came in meanwhile. */
  connected(): void {
    this.state = 'connected';
    this.stream.resume();
    const pending = this.#pending;
    this.#pending = [];
    for (const packet of pending) if (this.state === 'connected') this.#dispatch(packet);
  }

  write(packet: Packet, protocolVersion: 4 | 5 = 4): void {
    this.writeBytes(generate(packet, { protocolVersion }));
  }

  writeBytes(bytes: Buffer): void {
    if (this.state !== 'closed' && this.stream.writable) this.stream.write(bytes);
  }

  /** Ends the connection once; later calls do nothing. Bytes already written still go out. */
  close(cause: CloseCause, reason: string, fields: Record<string, unknown> = {}): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.#pending = [];
    this.keepAlive.stop();
    this.c2d.stop();
    this.methods.close();
    this.twinDesired.stop();
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    this.ctx.open.delete(this);
    this.log[LOG_LEVEL[cause]]({ ...fields, cause, reason }, 'MQTT connection closed');
    if (this.will && this.identity && PUBLISHES_WILL.has(cause)) publishWill(this, this.identity, this.will);
    this.#endStream();
  }

  #read(chunk: Buffer): void {
    if (this.state === 'closed') return;
    let buffered: number;
    try {
      buffered = this.#parser.parse(chunk);
    } catch (err) {
      this.#malformed(err);
      return;
    }
    if (buffered > this.ctx.settings.maxPacketBytes && !this.closed) {
      this.close('protocol-error', `a packet larger than ${this.ctx.settings.maxPacketBytes} bytes`);
    }
  }

  #receive(packet: Packet): void {
    if (this.state === 'closed') return;
    this.keepAlive.touch();
    if (this.state === 'connecting') {
      this.#pending.push(packet);
      return;
    }
    this.#dispatch(packet);
  }

  /** A handler that throws is a bug in the hub: it costs this connection, never the process. */
  #dispatch(packet: Packet): void {
    try {
      dispatchPacket(this, packet);
    } catch (err) {
      this.failed(err, packet.cmd);
    }
  }

  failed(err: unknown, cmd: string): void {
    this.log.error({ err, cmd }, 'an MQTT packet handler failed');
    this.close('hub-error', `the hub failed on a ${cmd} packet`);
  }

  #malformed(err: unknown): void {
    if (this.state === 'closed') return;
    // [MQTT-3.1.2-2]: a CONNECT of an unsupported level gets CONNACK 1 before the connection closes.
    if (this.state === 'awaiting-connect' && err instanceof Error && err.message === UNKNOWN_PROTOCOL_LEVEL) {
      this.write({ cmd: 'connack', returnCode: 1, sessionPresent: false });
      this.close('connect-refused', 'CONNECT of a protocol level this hub does not know');
      return;
    }
    this.close('protocol-error', `malformed packet: ${describe(err)}`);
  }

  #endStream(): void {
    const stream = this.stream;
    if (stream.destroyed) return;
    stream.end();
    // A client that never closes its side must not hold the socket.
    const timer = setTimeout(() => stream.destroy(), 2000).unref();
    stream.once('close', () => clearTimeout(timer));
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
