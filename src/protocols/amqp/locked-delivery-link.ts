import type { Logger } from 'pino';
import type { Delivery, Message, Sender } from 'rhea';
import { DeliveryPump, type DirectTaker } from '../../core/c2d/delivery-pump.js';
import { isHubError } from '../../domain/errors.js';
import { deliveryTagOf } from './c2d-encoding.js';

/** How the far end settled a delivery. */
export type Outcome = 'accepted' | 'rejected' | 'released' | 'modified';

export interface LockedDeliveryLinkOptions<T> {
  sender: Sender;
  /** Locks up to `max` next items for this link, in queue order. */
  receive(max: number): Promise<T[]>;
  watch(wake: () => void): () => void;
  /** Registers the link for items handed to it directly (see DeliveryPump). */
  standBy?(taker: DirectTaker<T>): () => void;
  lockTokenOf(item: T): string;
  encode(item: T): Message;
  /** Acts on the far end's outcome for the item with this lock token. */
  settle(lockToken: string, outcome: Outcome): Promise<void>;
  /** Gives back what the link held when it closed. */
  giveBack(lockToken: string): Promise<void>;
  rescanMs: number;
  log: Logger;
}

/**
 * A sender link that hands out locked items (C2D messages to a device, feedback messages to a back end): each is
 * sent unsettled with its lock token as the 16-byte delivery tag, as many as the link has credit for, and the far
 * end's outcome settles it. What is still out when the link closes is given back to its queue at once.
 */
export class LockedDeliveryLink<T> {
  private readonly out = new Map<Delivery, string>();
  private readonly pump: DeliveryPump<T>;
  private closed = false;

  constructor(private readonly options: LockedDeliveryLinkOptions<T>) {
    const { sender, log } = options;
    this.pump = new DeliveryPump<T>({
      receive: options.receive,
      watch: options.watch,
      ...(options.standBy === undefined ? {} : { standBy: options.standBy }),
      rescanMs: options.rescanMs,
      sink: {
        capacity: () => (!this.closed && sender.sendable() ? creditOf(sender) : 0),
        deliver: (item) => this.send(item),
      },
      failed: (err) => log.error({ err }, 'locking the next message for an AMQP link failed'),
      unwanted: (item) => this.giveBack(options.lockTokenOf(item)),
    });
  }

  start(): void {
    this.pump.start();
  }

  /** The link got credit. */
  sendable(): void {
    this.pump.roomFreed();
  }

  onOutcome(delivery: Delivery, outcome: Outcome): void {
    const lockToken = this.out.get(delivery);
    if (lockToken === undefined) return;
    this.out.delete(delivery);
    this.options.settle(lockToken, outcome).then(
      () => this.pump.roomFreed(),
      (err: unknown) => {
        // A lost lock means the item was offered again or is gone: at-least-once holds, nothing to tell the peer.
        if (isHubError(err, 'DeviceMessageLockLost')) this.options.log.debug({ lockToken, outcome }, 'settled after the lock was lost');
        else this.options.log.error({ err, lockToken, outcome }, 'settling an AMQP delivery failed');
        this.pump.wake();
      },
    );
  }

  /** The link closed (detach, session or connection end): stop, and give back whatever is still out. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pump.stop();
    for (const lockToken of this.out.values()) this.giveBack(lockToken);
    this.out.clear();
  }

  private send(item: T): void {
    const lockToken = this.options.lockTokenOf(item);
    const delivery = this.options.sender.send(this.options.encode(item), deliveryTagOf(lockToken));
    this.out.set(delivery, lockToken);
  }

  private giveBack(lockToken: string): void {
    this.options.giveBack(lockToken).catch((err: unknown) => this.options.log.error({ err, lockToken }, 'giving back a locked message failed'));
  }
}

/** rhea keeps a sender's remaining credit in `credit` (lib/link.js), which its typings leave out. */
function creditOf(sender: Sender): number {
  return (sender as unknown as { credit: number }).credit;
}
