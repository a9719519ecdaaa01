import type { AmqpError } from 'rhea';

/** A partition receiver as ownership sees it. */
export interface OwnedReceiver {
  /** `com.microsoft:epoch` (owner level), undefined for a non-epoch receiver. */
  readonly epoch: number | undefined;
  /** False once the link or its connection has gone; such receivers are forgotten lazily. */
  isAlive(): boolean;
  /** Detach with this error: another receiver took the partition. */
  evict(error: AmqpError): void;
}

export type Admission = { admitted: true; release(): void } | { admitted: false; error: AmqpError };

export const DEFAULT_MAX_NON_EPOCH_RECEIVERS = 5;

/**
 * Who may read a partition of a consumer group, by Event Hubs' epoch rules:
 * - a receiver with epoch e2 evicts every current receiver when no current epoch is above e2 (higher or equal
 *   wins; epoch receivers take precedence over non-epoch ones), and is refused when one is;
 * - a non-epoch receiver is refused while an epoch receiver reads, and beyond 5 non-epoch receivers.
 * Evictions and the epoch refusals use `amqp:link:stolen` (ReceiverDisconnectedError in the SDKs); the reader
 * limit uses `amqp:resource-limit-exceeded` (QuotaExceededError).
 */
export class ReceiverOwnership {
  readonly #receivers = new Map<string, Set<OwnedReceiver>>();

  constructor(private readonly maxNonEpochReceivers = DEFAULT_MAX_NON_EPOCH_RECEIVERS) {}

  admit(consumerGroup: string, partition: string, receiver: OwnedReceiver): Admission {
    const key = `${consumerGroup.toLowerCase()}/${partition}`;
    const current = this.#living(key);
    const where = `partition ${partition} of consumer group ${consumerGroup}`;
    const topEpoch = Math.max(-Infinity, ...[...current].map((r) => r.epoch ?? -Infinity));
    const owned = topEpoch !== -Infinity;

    if (receiver.epoch === undefined) {
      if (owned) {
        return refuse('amqp:link:stolen', `A receiver with epoch ${topEpoch} reads ${where}; a receiver without an epoch cannot attach until it is gone`);
      }
      if (current.size >= this.maxNonEpochReceivers) {
        return refuse('amqp:resource-limit-exceeded', `${where} already has the most readers without an epoch (${this.maxNonEpochReceivers})`);
      }
    } else {
      if (owned && receiver.epoch < topEpoch) {
        return refuse('amqp:link:stolen', `A receiver with epoch ${topEpoch} already exists on ${where}; a receiver with epoch ${receiver.epoch} cannot attach`);
      }
      for (const other of current) {
        other.evict({
          condition: 'amqp:link:stolen',
          description: `A new receiver with epoch ${receiver.epoch} attached to ${where}, so this receiver (epoch ${other.epoch ?? 'none'}) is disconnected. If you are recreating the receiver, use a higher epoch.`,
        });
      }
      current.clear();
    }

    current.add(receiver);
    this.#receivers.set(key, current);
    return {
      admitted: true,
      release: () => {
        current.delete(receiver);
        if (current.size === 0 && this.#receivers.get(key) === current) this.#receivers.delete(key);
      },
    };
  }

  /** How many receivers hold the partition (living ones; for tests and metrics). */
  count(consumerGroup: string, partition: string): number {
    return this.#living(`${consumerGroup.toLowerCase()}/${partition}`).size;
  }

  #living(key: string): Set<OwnedReceiver> {
    const set = this.#receivers.get(key) ?? new Set<OwnedReceiver>();
    for (const r of set) if (!r.isAlive()) set.delete(r);
    return set;
  }
}

function refuse(condition: string, description: string): Admission {
  return { admitted: false, error: { condition, description } };
}
