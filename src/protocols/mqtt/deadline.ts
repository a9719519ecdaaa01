/** setTimeout's longest delay (about 24.8 days); longer waits are made of several. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once `now()` reaches `atMs`, however far away that is, and never synchronously. Returns the function
 * that cancels it.
 */
export function atDeadline(atMs: number, now: () => number, fn: () => void): () => void {
  const delay = () => Math.min(Math.max(atMs - now(), 0), MAX_DELAY_MS);
  const wait = () => {
    if (atMs - now() <= 0) fn();
    else timer = setTimeout(wait, delay()).unref();
  };
  let timer = setTimeout(wait, delay()).unref();
  return () => clearTimeout(timer);
}
