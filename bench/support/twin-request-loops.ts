import { setTimeout as sleep } from 'node:timers/promises';

/** One request of a load loop: the n-th (from 0); resolves to undefined when the answer is right, else to what was wrong. */
export type LoadRequest = (n: number) => Promise<string | undefined>;

export interface LoopResult {
  /** Requests answered (rightly or not). */
  completed: number;
  /** Request-to-answer latencies of the right answers, ms, ascending. */
  latencies: number[];
  /** What went wrong, and how often. */
  errors: Map<string, number>;
  /** From the first request to the last answer, ms. */
  elapsedMs: number;
}

/** Keeps `concurrency` requests outstanding, each sent as soon as an answer frees its place, for `durationMs`. */
export async function runClosedLoop(o: { concurrency: number; durationMs: number; request: LoadRequest }): Promise<LoopResult> {
  const result: LoopResult = { completed: 0, latencies: [], errors: new Map(), elapsedMs: 0 };
  const started = performance.now();
  const end = started + o.durationMs;
  let next = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const sentAt = performance.now();
      await settle(result, sentAt, o.request(next++));
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  result.elapsedMs = performance.now() - started;
  result.latencies.sort((a, b) => a - b);
  return result;
}

/**
 * Sends `rate` requests/s for `durationMs`, on schedule whatever the answers do: the n-th is due at start + n/rate,
 * and its latency counts from then (a late send counts against the hub, not hidden by it).
 */
export async function runPacedLoop(o: { rate: number; durationMs: number; request: LoadRequest }): Promise<LoopResult> {
  const result: LoopResult = { completed: 0, latencies: [], errors: new Map(), elapsedMs: 0 };
  const total = Math.max(1, Math.round((o.rate * o.durationMs) / 1000));
  const intervalMs = 1000 / o.rate;
  const outstanding = new Set<Promise<void>>();
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1);
    for (; sent < due; sent++) {
      const p = settle(result, started + sent * intervalMs, o.request(sent));
      outstanding.add(p);
      void p.then(() => outstanding.delete(p));
    }
    await sleep(1);
  }
  await Promise.all(outstanding);
  result.elapsedMs = performance.now() - started;
  result.latencies.sort((a, b) => a - b);
  return result;
}

async function settle(result: LoopResult, since: number, answer: Promise<string | undefined>): Promise<void> {
  let problem: string | undefined;
  try {
    problem = await answer;
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  result.completed++;
  if (problem === undefined) result.latencies.push(performance.now() - since);
  else result.errors.set(problem, (result.errors.get(problem) ?? 0) + 1);
}
