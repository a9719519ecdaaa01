/**
 * One responder per subject across nodes. A responder announces a claim on the subject's takeover subject when it
 * starts (fresh) and again when it must remind others (after a reconnect, or to win a tie); a responder hearing
 * another's claim either yields (stops serving), reasserts its own claim, or ignores it (its own echo).
 *
 * A fresh claim heard long after one began serving (beyond the window) is plainly newer: yield. Claims closer than
 * that may have crossed on the wire (two nodes taking over at once, each unaware of the other), and yielding to
 * whatever one hears would leave nobody serving; so within the window, and for every non-fresh claim, the claims'
 * order decides — the later start time, then the id — and the winner reasserts so that a loser which never heard it
 * yields too. Every exchange ends with the greatest claim alone.
 */
export interface Claim {
  /** `<node id>/<serve number>`, unique across nodes. */
  id: string;
  /** Wall-clock microseconds at which the responder started. */
  at: number;
  fresh: boolean;
}

export type Reaction = 'yield' | 'reassert' | 'ignore';

export function reactTo(heard: Claim, mine: Claim, servingForMs: number, windowMs: number): Reaction {
  if (heard.id === mine.id) return 'ignore';
  if (heard.fresh && servingForMs > windowMs) return 'yield';
  return outranks(heard, mine) ? 'yield' : 'reassert';
}

function outranks(a: Claim, b: Claim): boolean {
  return a.at !== b.at ? a.at > b.at : a.id > b.id;
}

let lastClaimAt = 0;

/** Wall-clock microseconds, strictly increasing within the process, so that of two serves here the later wins. */
export function claimTime(): number {
  lastClaimAt = Math.max(Date.now() * 1000, lastClaimAt + 1);
  return lastClaimAt;
}

export function encodeClaim(claim: Claim): Uint8Array {
  return Buffer.from(JSON.stringify(claim), 'utf8');
}

/** The claim in `bytes`, or undefined for anything else (a node of another version, say). */
export function decodeClaim(bytes: Uint8Array): Claim | undefined {
  try {
    const value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Partial<Claim>;
    if (typeof value.id === 'string' && typeof value.at === 'number' && typeof value.fresh === 'boolean') return { id: value.id, at: value.at, fresh: value.fresh };
  } catch {
    // not JSON: ignored like any other foreign message
  }
  return undefined;
}
