import { formatTable } from '../../src/app/cli/table.js';
import type { C2dLedger, LedgerSummary } from './c2d-ledger.js';
import type { SendLoopResult } from './c2d-send-loop.js';
import { fixed, median, percentile } from './stats.js';

/** The targets. */
const TARGET_RATE = 10_000;
const TARGET_P99_MS = 50;
/** Functions listed per phase profile. */

export type C2dPhaseKind = 'warm-up' | 'saturated' | 'half rate' | 'fixed rate';

/** What one phase of the c2d benchmark measured. */
export interface C2dPhase {
  /** The kind, and its round when the phases were repeated (`saturated #2`). */
  name: string;
  kind: C2dPhaseKind;
  /** Messages/s asked for; undefined: saturated. */
  rate: number | undefined;
  send: SendLoopResult;
  /** The sending window, s. */
  seconds: number;
  summary: LedgerSummary;
  /** Sending plus drain, s. */
  wallS: number;
  hubCpuS: number | undefined;
  loadCpuS: number;
  /** This process's event-loop delay p99, ms: whether the load itself kept up. */
  loadLoopP99Ms: number;
  drained: boolean;
  /** The hub's CPU profile of the phase (sending and drain), with --hub-cpu-prof. */
  profile?: string;
}

export function acceptedRate(p: C2dPhase): number {
  return p.send.accepted / (p.send.elapsedMs / 1000);
}

/** First deliveries while the back end was sending, per second of sending. */
export function deliveredRate(p: C2dPhase): number {
  return p.summary.deliveredInWindow / p.seconds;
}

/** The phases' table, their problems (added to `errors`), the targets; sets a failing exit code on any error. */
export function printC2dReport(phases: C2dPhase[], ledger: C2dLedger, errors: string[], drainLimitMs: number): void {
  const table = phases.map((p) => {
    const s = p.summary;
    const refused = [...p.send.refused.values()].reduce((a, b) => a + b, 0);
    return [
      p.name,
      p.rate === undefined ? 'max' : String(p.rate),
      String(p.send.accepted),
      fixed(acceptedRate(p), 0),
      fixed(deliveredRate(p), 0),
      fixed(percentile(s.latencies, 50)),
      fixed(percentile(s.latencies, 99)),
      `${s.feedback}/${p.send.accepted}`,
      fixed(s.feedbackInWindow / p.seconds, 0),
      fixed(percentile(s.feedbackLags, 50), 0),
      fixed(percentile(s.feedbackLags, 99), 0),
      p.hubCpuS === undefined ? '-' : fixed((100 * p.hubCpuS) / p.wallS, 0),
      p.hubCpuS === undefined || s.delivered === 0 ? '-' : fixed((p.hubCpuS * 1e6) / s.delivered, 1),
      fixed((100 * p.loadCpuS) / p.wallS, 0),
      fixed(p.loadLoopP99Ms, 1),
      String(refused + p.send.unanswered),
    ];
  });
  console.log(
    formatTable(
      ['phase', 'msgs/s asked', 'accepted', 'accepted/s', 'delivered/s', 'latency p50 ms', 'latency p99 ms', 'feedback back', 'feedback rec/s', 'fb lag p50 ms', 'fb lag p99 ms', 'hub CPU %', 'hub CPU µs/msg', 'load CPU %', 'load loop p99 ms', 'refused'],
      table,
    ),
  );
  console.log(
    'accepted/s: hub accepts (durably queued) over the sending window and the outcomes still due after it; delivered/s: first deliveries to devices during the sending window; ' +
      'latency: back-end send to device receive; fb lag: device receive (PUBACK) to feedback record arrival; CPU: over sending and drain, per message delivered; load: this process (devices + back end), CPU and event-loop delay.',
  );

  for (const p of phases) {
    const s = p.summary;
    const problems: string[] = [];
    for (const [why, n] of p.send.refused) problems.push(`${n} refused (${why})`);
    if (p.send.unanswered > 0) problems.push(`${p.send.unanswered} never settled by the hub`);
    if (s.delivered < p.send.accepted) problems.push(`${p.send.accepted - s.delivered} accepted but not delivered`);
    if (s.feedback < p.send.accepted) problems.push(`${p.send.accepted - s.feedback} feedback records missing`);
    if (s.feedbackNotSuccess > 0) problems.push(`${s.feedbackNotSuccess} feedback records not Success`);
    if (!p.drained) problems.push(`not drained within ${drainLimitMs / 1000} s of the end of sending`);
    if (problems.length > 0) errors.push(`${p.name}: ${problems.join('; ')}`);
    else console.log(`${p.name}: drained ${fixed(p.wallS - p.seconds, 1)} s after sending stopped; every accepted message delivered once and its Success feedback record received`);
  }
  if (ledger.duplicates > 0) console.log(`${ledger.duplicates} duplicate deliveries (at-least-once redeliveries)`);
  if (ledger.strayFeedback > 0) errors.push(`${ledger.strayFeedback} feedback records for no message sent (or repeated)`);

  const saturated = phases.filter((p) => p.kind === 'saturated');
  if (saturated.length > 0) {
    const rates = saturated.map((p) => Math.min(acceptedRate(p), deliveredRate(p)));
    const rate = median(rates);
    const each = saturated.length > 1 ? `median of ${saturated.length} rounds (${rates.map((r) => fixed(r, 0)).join(', ')}), ` : '';
    const only = saturated[0]!;
    const detail = saturated.length > 1 ? '' : `accepted ${fixed(acceptedRate(only), 0)}/s, delivered ${fixed(deliveredRate(only), 0)}/s `;
    console.log(`target ${TARGET_RATE} msgs/s saturated: ${each}${detail}${fixed(rate, 0)}/s (${fixed((100 * rate) / TARGET_RATE, 0)}% of target): ${rate >= TARGET_RATE ? 'met' : 'NOT met'}`);
  }
  for (const [kind, what] of [['fixed rate', 'at the fixed rate'], ['half rate', 'at half the saturated rate']] as const) {
    const runs = phases.filter((p) => p.kind === kind);
    if (runs.length === 0) continue;
    const p99s = runs.map((p) => percentile(p.summary.latencies, 99));
    const p99 = median(p99s);
    const asked = runs.map((p) => p.rate!);
    const presumed = Math.min(...asked) >= TARGET_RATE / 2;
    const each = runs.length > 1 ? `median of ${runs.length} rounds (${p99s.map((x) => fixed(x)).join(', ')} ms), ` : '';
    const verdict = kind === 'half rate' || presumed ? `: ${p99 < TARGET_P99_MS ? 'met' : 'NOT met'}` : '';
    console.log(`target p99 < ${TARGET_P99_MS} ms ${what} (${asked.join(', ')} msgs/s asked, ${runs.map((p) => fixed(deliveredRate(p), 0)).join(', ')}/s delivered): ${each}p99 ${fixed(p99)} ms${verdict}`);
    if (kind === 'half rate' && Math.min(...asked) < TARGET_RATE / 2) console.log(`(the target presumes ${TARGET_RATE / 2} msgs/s; run --rate ${TARGET_RATE / 2} for the latency at that rate)`);
  }
  for (const e of errors) console.error(`error: ${e}`);
  if (errors.length > 0 || phases.length === 0) process.exitCode = 1;
}
