import type { Receiver } from 'rhea';

/**
 * Link credit replenished as deliveries are settled, not as they arrive (rhea's own window refills on arrival), so
 * a link never has more than `window` messages in flight and a slow store slows the sender instead of filling memory.
 */
export class CreditWindow {
  private settledSinceFlow = 0;

  constructor(
    private readonly receiver: Receiver,
    private readonly window: number,
  ) {
    receiver.add_credit(window);
  }

  /** Call once for every delivery that has been settled (accepted or rejected). */
  settled(): void {
    this.settledSinceFlow++;
    // Batching flows by a quarter window keeps one flow frame per many messages, as rhea's FlowController does.
    if (this.settledSinceFlow >= Math.max(1, Math.floor(this.window / 4)) || !this.receiver.has_credit()) {
      this.receiver.add_credit(this.settledSinceFlow);
      this.settledSinceFlow = 0;
    }
  }
}
