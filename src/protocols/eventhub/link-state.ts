import type { EventEmitter } from 'node:events';
import type { AmqpError, Delivery, Sender } from 'rhea';

/** Fields rhea 3 keeps on every link but leaves out of its typings. */
interface SenderInternals {
  /** Sees every event of the link before rhea dispatches it up (link, session, connection, container). */
  observers: EventEmitter;
  /** Credit the peer granted that no transfer has used yet. */
  credit: number;
  /** Transfers written to the wire so far (AMQP 1.0 §2.6.7). */
  delivery_count: number;
  local: { attach: { source: unknown; target: unknown; snd_settle_mode: number; offered_capabilities?: string[] } };
}

function internals(link: Sender): SenderInternals {
  return link as unknown as SenderInternals;
}

/**
 * The link's events without taking them from anyone: a listener on the link itself would stop rhea from
 * dispatching them to the session, connection and container, where the AMQP adapter tracks its links.
 */
export function observeLink(link: Sender): EventEmitter {
  return internals(link).observers;
}

/**
 * Echoes the receiver's source and target in our attach, re-encoding the remote termini as they came (a described
 * selector filter stays described). rhea replies with neither by default.
 */
export function echoTermini(link: Sender): void {
  const attach = internals(link).local.attach;
  attach.source = reencoded(link.source);
  attach.target = reencoded(link.target);
  if (attach.source === null) link.set_source({ address: '' });
}

function reencoded(terminus: unknown): unknown {
  const described = (terminus as { described?: () => unknown } | undefined)?.described;
  return typeof described === 'function' ? described.call(terminus) : null;
}

export const SETTLE_MODE = { unsettled: 0, settled: 1, mixed: 2 } as const;

/**
 * How many more deliveries may be handed to rhea now: the peer's credit less those `send` queued that rhea has
 * not yet written (rhea counts credit down only when it writes a transfer). rhea itself never writes a transfer
 * without credit; this keeps its queue from growing beyond the credit. (A drain advances the delivery count
 * without transfers, hence the floor at 0.)
 */
export function unusedCredit(link: Sender, sentSoFar: number): number {
  const { credit, delivery_count } = internals(link);
  return credit - Math.max(0, sentSoFar - delivery_count);
}

export function setSettleMode(link: Sender, mode: number): void {
  internals(link).local.attach.snd_settle_mode = mode;
}

export function offerCapabilities(link: Sender, capabilities: string[]): void {
  internals(link).local.attach.offered_capabilities = capabilities;
}

/**
 * Refuses a link the peer is attaching: the reply attach carries no source (AMQP 1.0 §2.6.3: the terminus was not
 * created), then the detach carries the error. Works only before rhea wrote the reply, i.e. in the open handler.
 */
export function refuseAttach(link: Sender, error: AmqpError): void {
  internals(link).local.attach.source = null;
  link.close(error);
}

/** Open on both ends: the link, its session and its connection. rhea reports nothing to links when a socket drops. */
export function isLinkAlive(link: Sender): boolean {
  return link.is_open() && link.connection.is_open();
}

/**
 * Marks a delivery settled before rhea writes its transfer, so it goes out pre-settled: what rhea does itself for
 * links in settle mode 1. Its typings make `settled` read-only.
 */
export function presettle(delivery: Delivery): void {
  (delivery as { settled: boolean }).settled = true;
}
