import { setTimeout as sleep } from 'node:timers/promises';
import type { HubCpuProfiler } from './hub-cpu-profile.js';
import { percentile } from './stats.js';
import type { TwinDevices } from './twin-devices.js';
import { PhaseMeter } from './twin-phase-meter.js';
import { TWIN_TARGETS, type TwinPhase } from './twin-report.js';
import type { ReportedPatchLoad } from './twin-reported-load.js';
import { runClosedLoop, runPacedLoop, type LoopResult } from './twin-request-loops.js';
import type { TwinServiceClient } from './twin-service-client.js';

/** How long the update phase may take, after sending stops, for every outstanding patch to be answered. */
const DRAIN_LIMIT_MS = 30_000;
/** Devices whose twin is read back after the update phase. */
const VERIFIED_DEVICES = 5;
const METHOD_NAME = 'ping';
const WARM_UP_MS = 1000;

/** What every phase runs against. */
export interface TwinBench {
  hubPid: number;
  service: TwinServiceClient;
  fleet: TwinDevices;
  ids: readonly string[];
  seconds: number;
  /** Concurrent service requests in the saturated REST phases. */
  clients: number;
  profiler: HubCpuProfiler | undefined;
}

/** Phase 1: `clients` service callers reading twins round-robin over the devices. */
export async function twinReadPhase(b: TwinBench): Promise<TwinPhase> {
  // Unmeasured: every caller's keep-alive connection opened (TLS handshake) and the hub's code paths warmed.
  await runClosedLoop({ concurrency: b.clients, durationMs: WARM_UP_MS, request: (n) => b.service.getTwin(b.ids[n % b.ids.length]!).then(() => undefined) });
  const meter = new PhaseMeter(b.hubPid, b.profiler);
  const loop = await runClosedLoop({
    concurrency: b.clients,
    durationMs: b.seconds * 1000,
    request: async (n) => {
      const id = b.ids[n % b.ids.length]!;
      const answer = await b.service.getTwin(id);
      if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
      return answer.body.includes(`"deviceId":${JSON.stringify(id)}`) ? undefined : 'a twin of another device';
    },
  });
  return loopPhase('twin reads', `${b.clients} callers`, loop, await meter.stop('twins-reads'));
}

/**
 * Phase 2: every device keeps its patches outstanding for `seconds`; then the phase waits for the last answers and
 * reads back the twins of a few devices: their reported `$version` must be 1 + the 204s they got.
 */
export async function reportedUpdatePhase(b: TwinBench, load: ReportedPatchLoad, inflight: number): Promise<{ phase: TwinPhase; checks: string[] }> {
  const meter = new PhaseMeter(b.hubPid, b.profiler);
  load.windowEnd = performance.now() + b.seconds * 1000;
  load.start(b.fleet);
  await sleep(b.seconds * 1000);
  load.stop();
  const drainDeadline = performance.now() + DRAIN_LIMIT_MS;
  while (load.outstanding > 0 && performance.now() < drainDeadline) await sleep(20);
  const cost = await meter.stop('twins-reported-updates');

  const errors = new Map(load.errors);
  if (load.outstanding > 0) errors.set(`patches unanswered ${DRAIN_LIMIT_MS / 1000} s after sending stopped`, load.outstanding);
  if (load.versionsOutOfOrder > 0) errors.set('204s whose $version did not exceed one seen before on the device', load.versionsOutOfOrder);
  const miscounted = load.acked.filter((acked, d) => load.lastVersion[d] !== 1 + acked).length;
  if (miscounted > 0) errors.set('devices whose last 204 $version is not 1 + their 204s', miscounted);
  const checks = await verifyReported(b, load, errors);
  const latencies = [...load.latencies].sort((a, b) => a - b);
  const phase: TwinPhase = {
    name: 'reported updates',
    load: `${b.ids.length} devices × ${inflight}`,
    ok: load.ackedTotal,
    rate: load.ackedInWindow / b.seconds,
    latencies,
    errors,
    cost,
    target: { text: `≥ ${TWIN_TARGETS.reportedUpdatesPerS}/s`, met: load.ackedInWindow / b.seconds >= TWIN_TARGETS.reportedUpdatesPerS },
  };
  return { phase, checks };
}

/** Reads back a few devices' twins; what disagrees goes to `errors`, what was checked is returned. */
async function verifyReported(b: TwinBench, load: ReportedPatchLoad, errors: Map<string, number>): Promise<string[]> {
  const count = Math.min(VERIFIED_DEVICES, b.ids.length);
  const devices = [...new Set(Array.from({ length: count }, (_, k) => Math.round((k * (b.ids.length - 1)) / Math.max(1, count - 1))))];
  const checks: string[] = [];
  for (const d of devices) {
    const id = b.ids[d]!;
    const answer = await b.service.getTwin(id);
    const reported = answer.status === 200 ? (JSON.parse(answer.body) as { properties?: { reported?: { $version?: number; seq?: number } } }).properties?.reported : undefined;
    const expected = 1 + load.acked[d]!;
    const problem =
      reported === undefined
        ? `GET /twins/${id} answered ${answer.status}`
        : reported.$version !== expected
          ? `${id}: reported $version ${reported.$version}, but 1 + ${load.acked[d]} acknowledged patches = ${expected}`
          : reported.seq !== load.lastSeq[d]
            ? `${id}: reported seq ${reported.seq}, but the device's last patch had seq ${load.lastSeq[d]}`
            : undefined;
    if (problem !== undefined) errors.set(`twin read back: ${problem}`, 1);
    else checks.push(`${id}: $version ${expected} = 1 + ${load.acked[d]} patches acknowledged, seq of the last patch`);
  }
  return checks;
}

/** Phase 3: `clients` service callers invoking a method round-robin over the devices, as fast as answered. */
export async function methodSaturatedPhase(b: TwinBench): Promise<TwinPhase> {
  const meter = new PhaseMeter(b.hubPid, b.profiler);
  const loop = await runClosedLoop({ concurrency: b.clients, durationMs: b.seconds * 1000, request: (n) => callMethod(b, n) });
  const phase = loopPhase('method calls', `${b.clients} callers`, loop, await meter.stop('twins-methods-saturated'));
  phase.target = { text: `≥ ${TWIN_TARGETS.methodCallsPerS}/s`, met: phase.rate >= TWIN_TARGETS.methodCallsPerS };
  return phase;
}

/** Phase 3b: method calls at a steady `rate`, for the latency at that rate. */
export async function methodPacedPhase(b: TwinBench, rate: number): Promise<TwinPhase> {
  const meter = new PhaseMeter(b.hubPid, b.profiler);
  const loop = await runPacedLoop({ rate, durationMs: b.seconds * 1000, request: (n) => callMethod(b, n) });
  const phase = loopPhase('method calls paced', `${rate}/s (≤ ${b.clients} sockets)`, loop, await meter.stop('twins-methods-paced'));
  const p99 = loop.latencies.length > 0 ? percentile(loop.latencies, 99) : Infinity;
  phase.target = {
    text: `p99 < ${TWIN_TARGETS.methodP99Ms} ms at ${TWIN_TARGETS.methodCallsPerS}/s${rate < TWIN_TARGETS.methodCallsPerS ? ` (ran at ${rate}/s)` : ''}`,
    met: rate >= TWIN_TARGETS.methodCallsPerS && p99 < TWIN_TARGETS.methodP99Ms,
  };
  return phase;
}

/** Calls `ping` with `{"seq":n}` on device n mod N; the device echoes the payload with status 200. */
async function callMethod(b: TwinBench, n: number): Promise<string | undefined> {
  const answer = await b.service.invokeMethod(b.ids[n % b.ids.length]!, METHOD_NAME, `{"seq":${n}}`);
  if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
  const result = JSON.parse(answer.body) as { status?: unknown; payload?: { seq?: unknown } };
  if (result.status !== 200) return `method status ${String(result.status)}`;
  return result.payload?.seq === n ? undefined : 'the answer to another call';
}

function loopPhase(name: string, load: string, loop: LoopResult, cost: TwinPhase['cost']): TwinPhase {
  return { name, load, ok: loop.latencies.length, rate: loop.latencies.length / (loop.elapsedMs / 1000), latencies: loop.latencies, errors: loop.errors, cost };
}
