import { formatTable } from '../../src/app/cli/table.js';
import type { PhaseCost } from './twin-phase-meter.js';
import { fixed, percentile } from './stats.js';

/** The targets. */
export const TWIN_TARGETS = { methodCallsPerS: 5_000, methodP99Ms: 20, reportedUpdatesPerS: 10_000 } as const;

/** Other processes' CPU (fraction of one core) above which a phase's figures are flagged as disturbed. */
const BUSY_NEIGHBOURS = 0.1;

/** What one phase of the twins benchmark measured. */
export interface TwinPhase {
  name: string;
  /** The load, as people read it: "32 callers", "1000 devices × 4", "5000/s". */
  load: string;
  /** Operations answered rightly. */
  ok: number;
  /** Operations/s the phase sustained. */
  rate: number;
  /** Latencies of the right answers, ms, ascending. */
  latencies: number[];
  /** Wrong answers and failed requests, by what was wrong. */
  errors: Map<string, number>;
  cost: PhaseCost;
  /** The target for the phase and whether it was met; undefined where the issue sets none. */
  target?: { text: string; met: boolean };
}

export function errorCount(p: TwinPhase): number {
  return [...p.errors.values()].reduce((a, b) => a + b, 0);
}

/** The phases' table and targets; their errors are added to `errors`. */
export function printTwinReport(phases: readonly TwinPhase[], errors: string[]): void {
  const rows = phases.map((p) => {
    const { cost } = p;
    return [
      p.name,
      p.load,
      String(p.ok),
      fixed(p.rate, 0),
      fixed(percentile(p.latencies, 50)),
      fixed(percentile(p.latencies, 99)),
      String(errorCount(p)),
      cost.hubCpuS === undefined ? '-' : fixed((100 * cost.hubCpuS) / cost.wallS, 0),
      cost.hubCpuS === undefined || p.ok === 0 ? '-' : fixed((cost.hubCpuS * 1e6) / p.ok, 0),
      fixed((100 * cost.loadCpuS) / cost.wallS, 0),
      fixed(cost.loadLoopP99Ms, 1),
      cost.otherCpuS === undefined ? '-' : fixed((100 * cost.otherCpuS) / cost.wallS, 0),
      p.target === undefined ? '-' : `${p.target.text}: ${p.target.met ? 'met' : 'NOT met'}`,
    ];
  });
  console.log(
    formatTable(['phase', 'load', 'ok', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'hub CPU %', 'hub CPU µs/op', 'load CPU %', 'load loop p99 ms', 'others CPU %', 'target (issue)'], rows),
  );
  console.log(
    'ops/s: right answers per second of the phase; latency: request sent (paced: due) to answer received; CPU: over the phase (updates: with the drain), per right answer; ' +
      'load: this process (devices + service callers), CPU and event-loop delay; others: every other process on the machine; 100% CPU = one core.',
  );
  const busy = phases.filter((p) => p.cost.otherCpuS !== undefined && p.cost.otherCpuS / p.cost.wallS > BUSY_NEIGHBOURS);
  if (busy.length > 0) console.log(`warning: other processes used the cores during ${busy.map((p) => p.name).join(', ')}: those figures understate the hub; run again on a quiet machine`);
  for (const p of phases) {
    for (const [what, n] of p.errors) errors.push(`${p.name}: ${n} × ${what}`);
  }
}
