import type { AmqpError, EventContext, Message, Sender } from 'rhea';

export interface SendLoopOptions {
  sender: Sender;
  /** Most messages awaiting the hub's outcome at once (the hub's link credit caps it too). */
  window: number;
  /** Sending stops after this long; outcomes still due are awaited. */
  durationMs: number;
  /** Messages per second; undefined: as fast as the hub settles them. */
  rate?: number;
  /** Builds the next message at the moment it is sent. */
  next(): Message;
  /** How long to wait, after sending stops, for the outcomes still due. */
  settleTimeoutMs?: number;
}

export interface SendLoopResult {
  sent: number;
  accepted: number;
  /** Refusals (rejected, released, modified) by AMQP error condition or outcome. */
  refused: Map<string, number>;
  /** Sent but never settled within the settle timeout. */
  unanswered: number;
  /** From the first send to the last outcome. */
  elapsedMs: number;
}

const PACING_TICK_MS = 1;

/**
 * Sends on one AMQP link for a while, keeping up to `window` messages unsettled: saturated (refilled as outcomes
 * arrive) or paced (whatever the rate owes so far, looked at every millisecond; never more than the window).
 */
export function sendFor(o: SendLoopOptions): Promise<SendLoopResult> {
  const { sender, window } = o;
  const result: SendLoopResult = { sent: 0, accepted: 0, refused: new Map(), unanswered: 0, elapsedMs: 0 };
  return new Promise((resolve) => {
    const started = performance.now();
    let lastOutcomeAt = started;
    let unsettled = 0;
    let sending = true;
    const pump = () => {
      if (!sending) return;
      const now = performance.now();
      if (now - started >= o.durationMs) return stopSending();
      let owed = o.rate === undefined ? Infinity : Math.floor(((now - started) / 1000) * o.rate) - result.sent;
      while (owed > 0 && unsettled < window && sender.sendable()) {
        sender.send(o.next());
        result.sent++;
        unsettled++;
        owed--;
      }
    };
    const outcome = (refusal?: string) => {
      unsettled--;
      lastOutcomeAt = performance.now();
      if (refusal === undefined) result.accepted++;
      else result.refused.set(refusal, (result.refused.get(refusal) ?? 0) + 1);
      if (sending) pump();
      else if (unsettled === 0) finish();
    };
    const conditionOf = (ctx: EventContext, fallback: string) => String((ctx.delivery?.remote_state as { error?: AmqpError } | undefined)?.error?.condition ?? fallback);
    const onAccepted = () => outcome();
    const onRejected = (ctx: EventContext) => outcome(conditionOf(ctx, 'rejected'));
    const onReleased = () => outcome('released');
    const onModified = () => outcome('modified');
    sender.on('accepted', onAccepted);
    sender.on('rejected', onRejected);
    sender.on('released', onReleased);
    sender.on('modified', onModified);
    sender.on('sendable', pump);
    const ticker = o.rate === undefined ? undefined : setInterval(pump, PACING_TICK_MS);
    const deadline = setTimeout(() => stopSending(), o.durationMs);
    let settleTimer: NodeJS.Timeout | undefined;

    function stopSending(): void {
      if (!sending) return;
      sending = false;
      clearInterval(ticker);
      clearTimeout(deadline);
      if (unsettled === 0) return finish();
      settleTimer = setTimeout(finish, o.settleTimeoutMs ?? 30_000);
    }
    function finish(): void {
      clearTimeout(settleTimer);
      sender.removeListener('accepted', onAccepted);
      sender.removeListener('rejected', onRejected);
      sender.removeListener('released', onReleased);
      sender.removeListener('modified', onModified);
      sender.removeListener('sendable', pump);
      result.unanswered = unsettled;
      result.elapsedMs = lastOutcomeAt - started;
      resolve(result);
    }
    pump();
  });
}
