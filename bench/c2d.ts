// `npm run bench -- c2d [--devices N] [--seconds S] [--window W] [--rate R] [--bytes B] [--warmup S] [--rounds K] [--hub-cpu-prof DIR]`:
// cloud-to-device throughput and latency. N MQTT/TLS devices subscribe to their C2D topic at QoS 1 and PUBACK every
// delivery; one back end (raw rhea, one AMQP/TLS connection) sends round-robin to them on /messages/devicebound with
// `iothub-ack: full`, up to W messages unsettled, and takes feedback on /messages/serviceBound/feedback. Phase 1
// sends as fast as the hub accepts for S seconds; phase 2 sends at half the rate phase 1 sustained (the lower of
// accepted/s and delivered/s). --rate R runs one phase at R messages/s instead. A warm-up of --warmup S seconds (default
// 2) at the fixed rate (or 5,000/s) comes first and is shown apart. --rounds K repeats the saturated and half-rate
// phases K times on the same hub and checks the targets on the medians: on a shared 2-core machine one phase's rate
// drifts by 10-20% from minute to minute. --hub-cpu-prof DIR profiles the hub during each phase and prints the
// heaviest functions.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startHubProcess, type HubProcess } from '../test/support/hub-process.js';
import { C2dLedger } from './support/c2d-ledger.js';
import { connectC2dDevices, type C2dDevices } from './support/c2d-devices.js';
import { acceptedRate, deliveredRate, printC2dReport, type C2dPhase, type C2dPhaseKind } from './support/c2d-report.js';
import { printProfile } from './support/cpu-profile-summary.js';
import { sendFor } from './support/c2d-send-loop.js';
import { c2dMessage, openC2dServiceClient, type C2dServiceClient } from './support/c2d-service-client.js';
import { HubCpuProfiler, profilingEnv } from './support/hub-cpu-profile.js';
import { registerMqttDevices } from './support/register-devices.js';
import { cpuSeconds } from './support/stats.js';
import { positiveNumber, wholeNumber } from './support/flags.js';

/** How long a phase may take, after sending stops, for every accepted message to reach its device and its feedback to return. */
const DRAIN_LIMIT_MS = 60_000;
const FEEDBACK_INTERVAL_S = 1;
const QUEUE_DEPTH = 10_000;
/** Messages/s of the warm-up before a saturated run. */
const WARMUP_RATE = 5_000;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      devices: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '10' },
      window: { type: 'string', default: '500' },
      rate: { type: 'string' },
      bytes: { type: 'string', default: '64' },
      'hub-cpu-prof': { type: 'string' },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '1' },
    },
  });
  const devices = wholeNumber(values.devices, 'devices', 1);
  const seconds = positiveNumber(values.seconds, 'seconds');
  const window = wholeNumber(values.window, 'window', 1);
  const bytes = wholeNumber(values.bytes, 'bytes', 1);
  const fixedRate = values.rate === undefined ? undefined : positiveNumber(values.rate, 'rate');
  const rounds = wholeNumber(values.rounds, 'rounds', 1);
  const warmup = Number(values.warmup);
  if (!(warmup >= 0)) throw new Error(`--warmup must be a number of seconds >= 0, not ${values.warmup}`);
  const profDir = values['hub-cpu-prof'] === undefined ? undefined : resolve(values['hub-cpu-prof']);
  console.log(
    `c2d: ${devices} devices on MQTT 3.1.1/TLS (QoS 1 subscription, PUBACK at once), 1 back end on AMQP/TLS (window ${window}), ${bytes}-byte messages with iothub-ack full, ` +
      `${seconds} s per phase, feedback every ${FEEDBACK_INTERVAL_S} s, ${availableParallelism()} cores, node ${process.version}`,
  );

  if (profDir !== undefined) console.log(`profiling the hub during each phase into ${profDir} (the profiler costs the hub some throughput)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'lazuli-bench-c2d-'));
  const errors: string[] = [];
  const phases: C2dPhase[] = [];
  let hub: HubProcess | undefined;
  let fleet: C2dDevices | undefined;
  let service: C2dServiceClient | undefined;
  const ledger = new C2dLedger(bytes);
  try {
    hub = await startHubProcess(
      dataDir,
      ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--c2d-max-queue-depth', String(QUEUE_DEPTH), '--feedback-interval-seconds', String(FEEDBACK_INTERVAL_S)],
      profDir === undefined ? {} : profilingEnv(profDir),
    );
    const profiler = profDir === undefined ? undefined : new HubCpuProfiler(profDir, hub.child.pid!);
    const ids = Array.from({ length: devices }, (_, i) => `c2d-${i}`);
    const credentials = await registerMqttDevices(hub, ids);
    fleet = await connectC2dDevices({
      host: '127.0.0.1',
      port: hub.settings.ports.mqtt,
      ca: hub.ca,
      servername: 'localhost',
      devices: credentials,
      onMessage: (_device, payload, receivedAt) => ledger.delivered(payload, receivedAt),
    });
    if (fleet.connected < devices) throw new Error(`${devices - fleet.connected} of ${devices} devices did not connect and subscribe; first: ${fleet.errors[0]}`);
    service = await openC2dServiceClient(hub, (records, arrivedAt) => ledger.feedback(records, arrivedAt));

    const runPhase = (kind: C2dPhaseKind, rate: number | undefined, round?: number, forSeconds = seconds) =>
      phase(kind, rate, { hub: hub!, service: service!, ledger, ids, seconds: forSeconds, window, profiler, ...(rounds > 1 && round !== undefined ? { round } : {}) });
    // A fresh hub's first second (JIT, first message to each device, cold caches) is slower than any later one; it
    // is shown as its own row, not counted in the phases the targets are checked on.
    if (warmup > 0) phases.push(await runPhase('warm-up', fixedRate ?? WARMUP_RATE, undefined, warmup));
    for (let round = 1; round <= rounds; round++) {
      if (fixedRate !== undefined) {
        phases.push(await runPhase('fixed rate', fixedRate, round));
      } else {
        const saturated = await runPhase('saturated', undefined, round);
        phases.push(saturated);
        const half = Math.max(1, Math.round(Math.min(acceptedRate(saturated), deliveredRate(saturated)) / 2));
        phases.push(await runPhase('half rate', half, round));
      }
    }
    errors.push(...fleet.errors);
  } finally {
    service?.close();
    fleet?.close();
    const code = await hub?.stop();
    if (hub && code !== 0) errors.push(`the hub exited with ${code}:\n${hub.output().slice(-2000)}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  printC2dReport(phases, ledger, errors, DRAIN_LIMIT_MS);
  for (const p of phases) if (p.profile !== undefined) printProfile(p.name, p.profile);
}

async function phase(
  kind: C2dPhaseKind,
  rate: number | undefined,
  o: { hub: HubProcess; service: C2dServiceClient; ledger: C2dLedger; ids: string[]; seconds: number; window: number; profiler: HubCpuProfiler | undefined; round?: number },
): Promise<C2dPhase> {
  const { ledger, ids } = o;
  const name = o.round === undefined ? kind : `${kind} #${o.round}`;
  const pid = o.hub.child.pid!;
  const from = ledger.nextSeq;
  const deliveredBefore = ledger.deliveredTotal;
  const feedbackBefore = ledger.feedbackTotal;
  o.profiler?.start();
  const hubCpu0 = cpuSeconds(pid);
  const loadCpu0 = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const started = performance.now();
  const send = await sendFor({
    sender: o.service.sender,
    window: o.window,
    durationMs: o.seconds * 1000,
    ...(rate === undefined ? {} : { rate }),
    next: () => {
      const { seq, body } = ledger.nextBody();
      return c2dMessage(ids[seq % ids.length]!, String(seq), body);
    },
  });
  const windowEnd = started + o.seconds * 1000;
  // Every accepted message should reach its device and come back as a feedback record.
  const drainDeadline = performance.now() + DRAIN_LIMIT_MS;
  let drained = false;
  while (performance.now() < drainDeadline) {
    if (ledger.deliveredTotal - deliveredBefore >= send.accepted && ledger.feedbackTotal - feedbackBefore >= send.accepted) {
      drained = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const wallS = (performance.now() - started) / 1000;
  const hubCpu1 = cpuSeconds(pid);
  const loadCpu = process.cpuUsage(loadCpu0);
  loopDelay.disable();
  const profile = await o.profiler?.stop(`c2d-${name.replace(/[^a-z0-9]+/gi, '-')}`);
  return {
    name,
    kind,
    rate,
    send,
    seconds: o.seconds,
    summary: ledger.summary(from, ledger.nextSeq, windowEnd),
    wallS,
    hubCpuS: hubCpu0 === undefined || hubCpu1 === undefined ? undefined : hubCpu1 - hubCpu0,
    loadCpuS: (loadCpu.user + loadCpu.system) / 1e6,
    loadLoopP99Ms: loopDelay.percentile(99) / 1e6,
    drained,
    ...(profile === undefined ? {} : { profile }),
  };
}
