import type { Logger } from 'pino';
import type { Sender } from 'rhea';
import type { Hub } from '../../core/hub.js';
import type { C2dMessage, C2dTarget, FeedbackBatch } from '../../domain/c2d.js';
import { encodeC2dMessage, encodeFeedbackMessage } from './c2d-encoding.js';
import { LockedDeliveryLink } from './locked-delivery-link.js';

/** How often a C2D or feedback link looks for messages whose lock ended, notifications aside. */
const LOCK_RESCAN_MS = 5_000;

/**
 * A device's (or module's) C2D receiver, as our sender: queued messages go out as the device grants credit, and its
 * outcome settles each (accepted completes, rejected rejects, released and modified abandon).
 */
export function deviceboundLink(sender: Sender, hub: Hub, target: C2dTarget, log: Logger): LockedDeliveryLink<C2dMessage> {
  const c2d = hub.c2d;
  return new LockedDeliveryLink<C2dMessage>({
    sender,
    receive: (max) => c2d.receiveMany(target, max),
    watch: (wake) => c2d.watch(target, wake),
    standBy: (taker) => c2d.standBy(target, taker),
    lockTokenOf: (m) => m.lockToken!,
    encode: encodeC2dMessage,
    settle: (lockToken, outcome) => {
      if (outcome === 'accepted') return c2d.complete(target, lockToken);
      if (outcome === 'rejected') return c2d.reject(target, lockToken);
      return c2d.abandon(target, lockToken);
    },
    giveBack: (lockToken) => c2d.release(target, lockToken),
    rescanMs: LOCK_RESCAN_MS,
    log,
  });
}

/** A back end's feedback receiver (`azure-iothub` Client.getFeedbackReceiver), as our sender. */
export function feedbackLink(sender: Sender, hub: Hub, log: Logger): LockedDeliveryLink<FeedbackBatch> {
  const feedback = hub.c2d.feedback;
  const hubName = hub.info.name;
  return new LockedDeliveryLink<FeedbackBatch>({
    sender,
    receive: (max) => feedback.receiveMany(max),
    watch: (wake) => feedback.watch(wake),
    lockTokenOf: (b) => b.lockToken!,
    encode: (b) => encodeFeedbackMessage(b, hubName),
    settle: (lockToken, outcome) => (outcome === 'accepted' ? feedback.complete(lockToken) : feedback.abandon(lockToken)),
    giveBack: (lockToken) => feedback.abandon(lockToken),
    rescanMs: LOCK_RESCAN_MS,
    log,
  });
}
