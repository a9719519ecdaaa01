import type { Principal } from '../../domain/principal.js';

/** A verified token a client put on `$cbs` (or presented as its SASL PLAIN password). */
export interface Claim {
  /** The audience it was put for, normalised (see normaliseAudience): the key a renewal replaces. */
  audience: string;
  token: string;
  principal: Principal;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
}

/** Percent-decoded, lower-cased, without a trailing `/`: IoT SDKs send `name` encoded, core-amqp sends it raw. */
export function normaliseAudience(audience: string): string {
  let decoded = audience;
  try {
    decoded = decodeURIComponent(audience);
  } catch {
    // kept as written: it then matches nothing a token can name
  }
  return decoded.trim().toLowerCase().replace(/\/+$/, '');
}

/** Setting a timer further out than this fires it at once (Node clamps to 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The claims of one connection, by audience. A renewal replaces the entry; when an entry expires without renewal
 * `onExpired` runs, so the links it authorised can be detached.
 */
export class ClaimStore {
  private readonly claims = new Map<string, { claim: Claim; timer: NodeJS.Timeout }>();

  constructor(
    private readonly onExpired: (claim: Claim) => void,
    private readonly now: () => number = Date.now,
  ) {}

  put(claim: Claim): void {
    const previous = this.claims.get(claim.audience);
    if (previous) clearTimeout(previous.timer);
    this.claims.delete(claim.audience);
    this.claims.set(claim.audience, { claim, timer: this.arm(claim) });
  }

  /** The most recently put unexpired claim that satisfies `grants`. */
  find(grants: (claim: Claim) => boolean): Claim | undefined {
    const now = this.now();
    const entries = [...this.claims.values()];
    for (let i = entries.length - 1; i >= 0; i--) {
      const claim = entries[i]!.claim;
      if (claim.expiresAt > now && grants(claim)) return claim;
    }
    return undefined;
  }

  get size(): number {
    return this.claims.size;
  }

  clear(): void {
    for (const { timer } of this.claims.values()) clearTimeout(timer);
    this.claims.clear();
  }

  private arm(claim: Claim): NodeJS.Timeout {
    const delay = Math.max(0, claim.expiresAt - this.now());
    const timer = setTimeout(() => this.expire(claim), Math.min(delay, MAX_TIMER_MS));
    timer.unref();
    return timer;
  }

  private expire(claim: Claim): void {
    const entry = this.claims.get(claim.audience);
    if (entry?.claim !== claim) return;
    if (claim.expiresAt > this.now()) {
      entry.timer = this.arm(claim);
      return;
    }
    this.claims.delete(claim.audience);
    this.onExpired(claim);
  }
}
