import type { Logger } from 'pino';
import type { AmqpError, Connection, EventContext, link as Link, Receiver, Sender, Session } from 'rhea';
import type { Hub } from '../../core/hub.js';
import type { DeviceIdentity } from '../../domain/device-identity.js';
import type { C2dMessage, C2dTarget, FeedbackBatch } from '../../domain/c2d.js';
import type { EventHubEndpoint } from '../eventhub/event-hub-endpoint.js';
import { amqpErrorOf } from './amqp-errors.js';
import { deviceboundLink, feedbackLink } from './c2d-links.js';
import { C2dSendLink } from './c2d-send-link.js';
import { grantsDevice, grantsEventHubPath, grantsService } from './claim-grants.js';
import { ClaimStore, type Claim } from './claims.js';
import { CbsNode } from './cbs-node.js';
import { ConnectionIdentities } from './connection-identities.js';
import { CreditWindow } from './credit-window.js';
import { describeDevice, parseLinkAddress, type LinkAddress } from './link-address.js';
import { echoTermini, refuseLink } from './link-termini.js';
import { ManagementNode } from './management-node.js';
import { MethodLinks } from './method-links.js';
import { TwinLinks } from './twin-links.js';
import { LockedDeliveryLink, type Outcome } from './locked-delivery-link.js';
import { localAttach, messageFormatOf } from './rhea-internals.js';
import { plainClaimOf, saslMechanismName } from './sasl-mechanisms.js';
import { TelemetryLink } from './telemetry-link.js';
import { notServedYet } from './unserved-links.js';

export interface AmqpConnectionSettings {
  hub: Hub;
  logger: Logger;
  eventHub: EventHubEndpoint;
  /** Telemetry deliveries one link may have unsettled. */
  telemetryCreditWindow: number;
  maxLinksPerConnection: number;
  /** How long a connection left with nothing authorised may take to close itself before the hub closes it. */
  closeGraceMs: number;
}

/** IoT Hub's device-to-cloud limit, announced on telemetry links. */
const TELEMETRY_MAX_MESSAGE_SIZE = 256 * 1024;
/** Requests a `$cbs` or `$management` client may have outstanding. */
const REQUEST_CREDIT_WINDOW = 50;
const UNAUTHORIZED = 'amqp:unauthorized-access';

/** A link a token authorised: it lives while some claim on the connection `grants` it. */
interface Authorised {
  /** The audience of the claim that covers the link now. */
  claim: string;
  grants(claim: Claim): boolean;
  /** The device or module the link acts for, registered with the hub's connection registry once confirmed. */
  identity?: string;
}

type Tracked =
  | { kind: 'cbs-requests' | 'management-requests'; credit: CreditWindow; path: string[] }
  | { kind: 'cbs-replies' | 'management-replies' }
  | (Authorised & { kind: 'telemetry'; telemetry: TelemetryLink })
  | (Authorised & { kind: 'devicebound'; outgoing?: LockedDeliveryLink<C2dMessage> })
  | (Authorised & { kind: 'c2d-send'; incoming: C2dSendLink })
  | (Authorised & { kind: 'feedback'; outgoing: LockedDeliveryLink<FeedbackBatch> })
  | (Authorised & { kind: 'partition' })
  | (Authorised & { kind: 'methods' })
  | (Authorised & { kind: 'twin'; channelKey: string });


/**
 * One AMQP connection: routes each link by address to `$cbs`, device telemetry or the Event Hub-compatible
 * endpoint, authorises it against the connection's claims (per link, so gateways can multiplex devices), and
 * detaches what a claim covered when it expires or the registry drops an identity.
 */
export class AmqpConnection {
  private readonly claims = new ClaimStore((claim) => this.onClaimExpired(claim));
  private readonly identities: ConnectionIdentities;
  private readonly cbs: CbsNode;
  private readonly management: ManagementNode;
  private readonly methods: MethodLinks;
  private readonly twins: TwinLinks;
  private readonly links = new Map<Link, Tracked>();
  private readonly log: Logger;
  private closed = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly settings: AmqpConnectionSettings,
    private readonly destroySocket: () => void,
  ) {
    const { hub, logger } = settings;
    this.log = logger.child({ amqpConnection: connection.options.id });
    this.identities = new ConnectionIdentities(hub.connections, (key, reason) => this.onIdentityClosed(key, reason));
    this.cbs = new CbsNode(hub, this.claims, this.log);
    this.management = new ManagementNode(hub, settings.eventHub, this.claims, this.log);
    this.methods = new MethodLinks(hub, this.log);
    this.twins = new TwinLinks(hub.twins, this.log);
    connection.on('connection_open', () => this.onOpen());
    connection.on('receiver_open', (ctx: EventContext) => this.onLinkOpen(ctx.receiver!));
    connection.on('sender_open', (ctx: EventContext) => this.onLinkOpen(ctx.sender!));
    connection.on('message', (ctx: EventContext) => this.onMessage(ctx));
    connection.on('sendable', (ctx: EventContext) => this.onSendable(ctx.sender!));
    for (const outcome of ['accepted', 'rejected', 'released', 'modified'] as const) {
      connection.on(outcome, (ctx: EventContext) => this.onOutcome(ctx, outcome));
    }
    connection.on('receiver_close', (ctx: EventContext) => this.forget(ctx.receiver!));
    connection.on('sender_close', (ctx: EventContext) => this.forget(ctx.sender!));
    connection.on('session_close', (ctx: EventContext) => this.forgetSession(ctx.session!));
    connection.on('connection_close', () => this.close());
    connection.on('disconnected', () => this.dispose());
    connection.on('connection_error', (ctx: EventContext) => this.log.debug({ err: ctx.error?.message }, 'AMQP peer closed with an error'));
    // rhea reports malformed frames and frames out of order here, then ends the socket.
    connection.on('protocol_error', (err: Error) => this.log.info({ err: err.message }, 'AMQP protocol error; closing the connection'));
    connection.on('error', (err: Error) => this.log.info({ err: err.message }, 'AMQP connection error; closing the connection'));
  }

  /** Closes the connection with an error, if it is still open, and drops the socket if the peer does not answer. */
  close(error?: AmqpError): void {
    if (this.closed) return;
    this.closed = true;
    this.connection.close(error);
    setTimeout(this.destroySocket, 2000).unref();
    this.dispose();
  }

  /**
   * Closes the connection unless the client does first. The Node SDKs answer a detached link by detaching the rest
   * and closing; a connection closed under them stalls their run-down for 45 s, because they wait for detaches
   * that never come.
   */
  private closeAfterGrace(error: AmqpError): void {
    if (this.closed || this.graceTimer) return;
    this.graceTimer = setTimeout(() => this.close(error), this.settings.closeGraceMs);
    this.graceTimer.unref();
  }

  /** Forgets every identity and claim: the socket is gone or going. */
  dispose(): void {
    this.closed = true;
    clearTimeout(this.graceTimer);
    this.claims.clear();
    this.identities.releaseAll();
    // Outgoing C2D and feedback links stop, and what they held goes back to its queue at once.
    for (const tracked of this.links.values()) if (tracked.kind === 'devicebound' || tracked.kind === 'feedback') tracked.outgoing?.close();
    this.methods.closeAll();
    this.twins.closeAll();
    this.links.clear();
  }

  private onOpen(): void {
    const plain = plainClaimOf(this.connection);
    if (plain) this.claims.put(plain);
    this.log.debug({ sasl: saslMechanismName(this.connection), peer: this.connection.container_id }, 'AMQP connection open');
  }

  private onLinkOpen(link: Link): void {
    const clientReceives = link.is_sender();
    const address = (clientReceives ? link.source : link.target)?.address;
    const parsed = typeof address === 'string' ? parseLinkAddress(address) : undefined;
    if (this.links.size >= this.settings.maxLinksPerConnection) {
      return this.refuse(link, address, { condition: 'amqp:resource-limit-exceeded', description: `A connection may hold ${this.settings.maxLinksPerConnection} links` });
    }
    if (!parsed) return this.refuse(link, address, { condition: 'amqp:not-found', description: `No node at address "${String(address)}"` });
    const unserved = notServedYet(parsed, clientReceives);
    if (unserved) return this.refuse(link, address, unserved);
    if (parsed.kind === 'cbs') return this.openRequestReply(link, 'cbs', []);
    if (parsed.kind === 'device' && parsed.link === 'events' && !clientReceives) return this.openTelemetry(link as Receiver, parsed);
    if (parsed.kind === 'device' && parsed.link === 'devicebound' && clientReceives) return this.openDevicebound(link as Sender, parsed);
    if (parsed.kind === 'device' && parsed.link === 'methods') return this.openMethodLink(link, parsed);
    if (parsed.kind === 'device' && parsed.link === 'twin') return this.openTwinLink(link, parsed);
    if (parsed.kind === 'service' && parsed.feature === 'cloud-to-device' && !clientReceives) return this.openC2dSend(link as Receiver);
    if (parsed.kind === 'service' && parsed.feature === 'feedback' && clientReceives) return this.openFeedback(link as Sender);
    if (parsed.kind === 'other') {
      const eventHub = this.settings.eventHub.parseAddress(parsed.path);
      const path = parsed.path.split('/');
      if (eventHub?.kind === 'management') return this.openRequestReply(link, 'management', path);
      if (eventHub?.kind === 'partition' && clientReceives) return this.openPartition(link as Sender, eventHub, path);
      if (eventHub?.kind === 'partition') {
        return this.refuse(link, address, { condition: 'amqp:not-implemented', description: 'Sending to the Event Hub-compatible endpoint is not supported' });
      }
    }
    this.refuse(link, address, { condition: 'amqp:not-found', description: `No node at address "${String(address)}"` });
  }

  private openRequestReply(link: Link, node: 'cbs' | 'management', path: string[]): void {
    echoTermini(link);
    const replies = node === 'cbs' ? this.cbs.replies : this.management.replies;
    if (link.is_sender()) {
      replies.add(link as Sender);
      this.links.set(link, { kind: `${node}-replies` });
    } else {
      this.links.set(link, { kind: `${node}-requests`, credit: new CreditWindow(link as Receiver, REQUEST_CREDIT_WINDOW), path });
    }
  }

  private openTelemetry(receiver: Receiver, address: Extract<LinkAddress, { kind: 'device' }>): void {
    const claimed = this.claimDevice(receiver, address);
    if (!claimed) return;
    echoTermini(receiver);
    localAttach(receiver).max_message_size = TELEMETRY_MAX_MESSAGE_SIZE;
    const tracked: Tracked = { kind: 'telemetry', telemetry: new TelemetryLink(receiver, this.settings.hub, this.log), ...claimed.authorised };
    this.links.set(receiver, tracked);
    this.confirmDevice(receiver, tracked, claimed.token, address, (identity) => tracked.telemetry.authorise(identity, this.settings.telemetryCreditWindow));
  }

  /** A device's (or module's) C2D receiver: queued messages flow once the identity is confirmed. */
  private openDevicebound(sender: Sender, address: Extract<LinkAddress, { kind: 'device' }>): void {
    const claimed = this.claimDevice(sender, address);
    if (!claimed) return;
    echoTermini(sender);
    const tracked: Tracked = { kind: 'devicebound', ...claimed.authorised };
    this.links.set(sender, tracked);
    const target: C2dTarget = address.moduleId === undefined ? { deviceId: address.deviceId } : { deviceId: address.deviceId, moduleId: address.moduleId };
    this.confirmDevice(sender, tracked, claimed.token, address, () => {
      tracked.outgoing = deviceboundLink(sender, this.settings.hub, target, this.log.child({ deviceId: address.deviceId, moduleId: address.moduleId }));
      tracked.outgoing.start();
    });
  }

  /** Either link of a device's direct method pair: it serves calls once both are confirmed (method-links.ts). */
  private openMethodLink(link: Link, address: Extract<LinkAddress, { kind: 'device' }>): void {
    const claimed = this.claimDevice(link, address);
    if (!claimed) return;
    echoTermini(link);
    if (link.is_receiver()) localAttach(link).max_message_size = TELEMETRY_MAX_MESSAGE_SIZE;
    const tracked: Tracked = { kind: 'methods', ...claimed.authorised };
    this.links.set(link, tracked);
    this.confirmDevice(link, tracked, claimed.token, address, (identity) => this.methods.opened(link, identity));
  }

  /**
   * Either link of a device's twin pair (same address, paired by the channel correlation id): requests come in on
   * the device's sender, answers and desired-property notifications go out on its receiver (twin-channel.ts).
   */
  private openTwinLink(link: Link, address: Extract<LinkAddress, { kind: 'device' }>): void {
    const claimed = this.claimDevice(link, address);
    if (!claimed) return;
    echoTermini(link);
    const target = address.moduleId === undefined ? { deviceId: address.deviceId } : { deviceId: address.deviceId, moduleId: address.moduleId };
    const channelKey = this.twins.channelKeyOf(link, target);
    const tracked: Tracked = { kind: 'twin', channelKey, ...claimed.authorised };
    this.links.set(link, tracked);
    this.confirmDevice(link, tracked, claimed.token, address, () => this.twins.opened(link, channelKey, target));
  }

  /** A back end's C2D sender (`azure-iothub` Client.send). */
  private openC2dSend(receiver: Receiver): void {
    const claim = this.claims.find(grantsService);
    if (!claim) return this.refuse(receiver, receiver.target?.address, { condition: UNAUTHORIZED, description: 'No token on this connection grants ServiceConnect on this hub' });
    echoTermini(receiver);
    const incoming = new C2dSendLink(receiver, this.settings.hub, this.log, this.settings.telemetryCreditWindow);
    this.links.set(receiver, { kind: 'c2d-send', incoming, claim: claim.audience, grants: grantsService });
  }

  /** A back end's feedback receiver (`azure-iothub` Client.getFeedbackReceiver). */
  private openFeedback(sender: Sender): void {
    const claim = this.claims.find(grantsService);
    if (!claim) return this.refuse(sender, sender.source?.address, { condition: UNAUTHORIZED, description: 'No token on this connection grants ServiceConnect on this hub' });
    echoTermini(sender);
    const outgoing = feedbackLink(sender, this.settings.hub, this.log);
    this.links.set(sender, { kind: 'feedback', outgoing, claim: claim.audience, grants: grantsService });
    outgoing.start();
  }

  /** The claim that lets this link act as the device, or undefined after refusing the link. */
  private claimDevice(link: Link, address: Extract<LinkAddress, { kind: 'device' }>): { authorised: Authorised; token: string } | undefined {
    const { deviceId, moduleId } = address;
    const grants = (c: Claim) => grantsDevice(this.settings.hub.auth, c, deviceId, moduleId);
    const claim = this.claims.find(grants);
    if (!claim) {
      const address = link.is_sender() ? link.source?.address : link.target?.address;
      this.refuse(link, address, { condition: UNAUTHORIZED, description: `No token on this connection grants access to ${describeDevice(deviceId, moduleId)}` });
      return undefined;
    }
    return { authorised: { claim: claim.audience, grants }, token: claim.token };
  }

  /** The claim was checked when it was put; the device may have been disabled or deleted since. */
  private confirmDevice(link: Link, tracked: Tracked & Authorised, token: string, address: { deviceId: string; moduleId?: string }, confirmed: (identity: DeviceIdentity) => void): void {
    this.settings.hub.devices.authenticate(token, address.deviceId, address.moduleId).then(
      (identity) => {
        if (this.links.get(link) !== tracked) return;
        tracked.identity = this.identities.hold(identity);
        confirmed(identity);
      },
      (err: unknown) => {
        if (this.links.get(link) !== tracked) return;
        this.links.delete(link);
        this.log.info({ device: describeDevice(address.deviceId, address.moduleId), err: (err as Error).message }, 'AMQP device link refused');
        link.close(amqpErrorOf(err));
      },
    );
  }

  private openPartition(sender: Sender, address: { consumerGroup: string; partition: string }, path: string[]): void {
    const claim = this.claims.find((c) => grantsEventHubPath(c, path));
    if (!claim) return this.refuse(sender, sender.source?.address, { condition: UNAUTHORIZED, description: `No token on this connection grants ServiceConnect on "${path.join('/')}"` });
    echoTermini(sender);
    this.links.set(sender, { kind: 'partition', claim: claim.audience, grants: (c) => grantsEventHubPath(c, path) });
    this.settings.eventHub.openPartitionSender(sender, { consumerGroup: address.consumerGroup, partition: address.partition });
  }

  private onMessage(ctx: EventContext): void {
    const tracked = ctx.receiver ? this.links.get(ctx.receiver) : undefined;
    const delivery = ctx.delivery!;
    const message = ctx.message!;
    switch (tracked?.kind) {
      case 'telemetry':
        return tracked.telemetry.onMessage(delivery, message, messageFormatOf(ctx as { format?: unknown }));
      case 'c2d-send':
        return tracked.incoming.onMessage(delivery, message);
      case 'methods':
        return this.methods.onMessage(ctx.receiver!, delivery, message);
      case 'twin':
        if (!this.twins.onRequest(ctx.receiver!, tracked.channelKey, delivery, message)) {
          delivery.reject({ condition: UNAUTHORIZED, description: 'The twin link is not authorised yet' });
        }
        return;
      case 'cbs-requests':
        void this.cbs.onRequest(ctx.receiver!, delivery, message).finally(() => tracked.credit.settled());
        return;
      case 'management-requests':
        void this.management.onRequest(ctx.receiver!, delivery, message, tracked.path).finally(() => tracked.credit.settled());
        return;
      default:
        delivery.reject({ condition: 'amqp:not-allowed', description: 'This link does not take messages' });
    }
  }

  private onSendable(sender: Sender): void {
    const tracked = this.links.get(sender);
    if (tracked?.kind === 'cbs-replies') this.cbs.replies.flush(sender);
    else if (tracked?.kind === 'management-replies') this.management.replies.flush(sender);
    else if (tracked?.kind === 'devicebound' || tracked?.kind === 'feedback') tracked.outgoing?.sendable();
    else if (tracked?.kind === 'methods') this.methods.sendable(sender);
  }

  private onOutcome(ctx: EventContext, outcome: Outcome): void {
    const tracked = ctx.sender ? this.links.get(ctx.sender) : undefined;
    if (tracked?.kind === 'devicebound' || tracked?.kind === 'feedback') tracked.outgoing?.onOutcome(ctx.delivery!, outcome);
  }

  private refuse(link: Link, address: unknown, error: AmqpError): void {
    this.log.info({ address, role: link.is_sender() ? 'receiver' : 'sender', condition: error.condition, reason: error.description }, 'AMQP link refused');
    refuseLink(link, error);
  }

  /** The client detached a link (or its session ended). */
  private forget(link: Link): void {
    const tracked = this.links.get(link);
    if (!tracked) return;
    this.links.delete(link);
    if (tracked.kind === 'cbs-replies') this.cbs.replies.remove(link as Sender);
    if (tracked.kind === 'management-replies') this.management.replies.remove(link as Sender);
    if (tracked.kind === 'devicebound' || tracked.kind === 'feedback') tracked.outgoing?.close();
    if (tracked.kind === 'methods') this.methods.closed(link);
    if (tracked.kind === 'twin') this.forgetTwinLink(link, tracked.channelKey);
    if ('identity' in tracked && tracked.identity !== undefined) this.releaseIfUnused(tracked.identity);
  }

  /** The twin channel loses the link; without any link left it stops (no more notifications). */
  private forgetTwinLink(link: Link, channelKey: string): void {
    let others = false;
    for (const t of this.links.values()) if (t.kind === 'twin' && t.channelKey === channelKey) others = true;
    this.twins.closed(link, channelKey, others);
  }

  /** Ending a session ends its links without a detach for each. */
  private forgetSession(session: Session): void {
    for (const link of [...this.links.keys()]) if (link.session === session) this.forget(link);
  }

  private pruneClosedLinks(): void {
    for (const link of [...this.links.keys()]) if (link.is_closed()) this.forget(link);
  }

  private releaseIfUnused(identity: string): void {
    for (const t of this.links.values()) if ('identity' in t && t.identity === identity) return;
    this.identities.release(identity);
  }

  /** Links the claim covered move to another claim that covers them, or are detached. */
  private onClaimExpired(expired: Claim): void {
    const error = { condition: UNAUTHORIZED, description: `The token for "${expired.audience}" expired` };
    for (const [link, tracked] of [...this.links]) {
      if (!('grants' in tracked) || tracked.claim !== expired.audience) continue;
      const replacement = this.claims.find(tracked.grants);
      if (replacement) {
        tracked.claim = replacement.audience;
        continue;
      }
      this.forget(link);
      link.close(error);
    }
    this.log.info({ audience: expired.audience }, 'AMQP token expired');
    if (this.claims.size === 0 && !this.hasAuthorisedLinks()) this.closeAfterGrace(error);
  }

  private onIdentityClosed(key: string, reason: string): void {
    const error = { condition: UNAUTHORIZED, description: reason };
    for (const [link, tracked] of [...this.links]) {
      if (!('identity' in tracked) || tracked.identity !== key) continue;
      this.forget(link);
      link.close(error);
    }
    this.log.info({ identity: key, reason }, 'AMQP identity dropped');
    if (this.identities.size === 0 && !this.hasAuthorisedLinks()) this.closeAfterGrace(error);
  }

  private hasAuthorisedLinks(): boolean {
    this.pruneClosedLinks();
    for (const t of this.links.values()) if ('grants' in t) return true;
    return false;
  }
}
