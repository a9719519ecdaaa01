// `npm run bench -- twins [--devices N] [--seconds S] [--clients C] [--inflight K] [--method-rate R] [--hub-cpu-prof DIR]`:
// device twins and direct methods. N MQTT/TLS devices subscribe to `$iothub/twin/res/#` and `$iothub/methods/POST/#`.
// Phase 1: C service callers `GET /twins/{id}` over HTTPS keep-alive, round-robin over the devices. Phase 2: every
// device keeps K reported-property PATCHes outstanding over MQTT (a 204 means durable); then a few twins are read
// back, their reported $version must be 1 + the 204s. Phase 3: C service callers `POST /twins/{id}/methods`
// round-robin, the devices answering at once; then calls paced at R/s (default: 5000, or half the saturated rate if
// lower). Each phase lasts S seconds. --hub-cpu-prof DIR profiles the hub during each phase.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startHubProcess, type HubProcess } from '../test/support/hub-process.js';
import { printProfile } from './support/cpu-profile-summary.js';
import { HubCpuProfiler, profilingEnv } from './support/hub-cpu-profile.js';
import { registerMqttDevices } from './support/register-devices.js';
import { connectTwinDevices, type TwinDevices } from './support/twin-devices.js';
import { methodPacedPhase, methodSaturatedPhase, reportedUpdatePhase, twinReadPhase, type TwinBench } from './support/twin-phases.js';
import { printTwinReport, TWIN_TARGETS, type TwinPhase } from './support/twin-report.js';
import { ReportedPatchLoad } from './support/twin-reported-load.js';
import { TwinServiceClient } from './support/twin-service-client.js';
import { positiveNumber, wholeNumber } from './support/flags.js';


export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      devices: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '32' },
      inflight: { type: 'string', default: '4' },
      'method-rate': { type: 'string' },
      'hub-cpu-prof': { type: 'string' },
    },
  });
  const devices = wholeNumber(values.devices, 'devices', 1);
  const seconds = positiveNumber(values.seconds, 'seconds');
  const clients = wholeNumber(values.clients, 'clients', 1);
  const inflight = wholeNumber(values.inflight, 'inflight', 1);
  const methodRate = values['method-rate'] === undefined ? undefined : wholeNumber(values['method-rate'], 'method-rate', 1);
  const profDir = values['hub-cpu-prof'] === undefined ? undefined : resolve(values['hub-cpu-prof']);
  console.log(
    `twins: ${devices} devices on MQTT 3.1.1/TLS (raw client, QoS 0), service REST over HTTPS keep-alive with ${clients} callers, ` +
      `${inflight} reported patches of ${ReportedPatchLoad.body(0).length} bytes in flight per device, ${seconds} s per phase, ${availableParallelism()} cores (load average ${loadavg()[0]!.toFixed(2)} before starting), node ${process.version}`,
  );
  if (profDir !== undefined) console.log(`profiling the hub during each phase into ${profDir} (the profiler costs the hub some throughput)`);

  const dataDir = mkdtempSync(join(tmpdir(), 'lazuli-bench-twins-'));
  const errors: string[] = [];
  const phases: TwinPhase[] = [];
  let checks: string[] = [];
  let hub: HubProcess | undefined;
  let fleet: TwinDevices | undefined;
  let service: TwinServiceClient | undefined;
  const load = new ReportedPatchLoad(devices, inflight);
  try {
    hub = await startHubProcess(dataDir, ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0'], profDir === undefined ? {} : profilingEnv(profDir));
    const profiler = profDir === undefined ? undefined : new HubCpuProfiler(profDir, hub.child.pid!);
    const ids = Array.from({ length: devices }, (_, i) => `twin-${i}`);
    const credentials = await registerMqttDevices(hub, ids);
    fleet = await connectTwinDevices({
      host: '127.0.0.1',
      port: hub.settings.ports.mqtt,
      ca: hub.ca,
      servername: 'localhost',
      devices: credentials,
      onTwinResponse: (device, response, receivedAt, out) => load.onTwinResponse(device, response, receivedAt, out),
    });
    if (fleet.connected < devices) throw new Error(`${devices - fleet.connected} of ${devices} devices did not connect and subscribe; first: ${fleet.errors[0]}`);
    service = new TwinServiceClient(hub, clients);
    const bench: TwinBench = { hubPid: hub.child.pid!, service, fleet, ids, seconds, clients, profiler };

    phases.push(await twinReadPhase(bench));
    const updates = await reportedUpdatePhase(bench, load, inflight);
    phases.push(updates.phase);
    checks = updates.checks;
    const saturated = await methodSaturatedPhase(bench);
    phases.push(saturated);
    const pacedRate = methodRate ?? Math.max(1, Math.min(TWIN_TARGETS.methodCallsPerS, Math.round(saturated.rate / 2)));
    const paced = await methodPacedPhase(bench, pacedRate);
    phases.push(paced);
    const calls = saturated.ok + paced.ok;
    if (fleet.methodRequests < calls) errors.push(`the devices received ${fleet.methodRequests} method requests for ${calls} calls answered`);
    errors.push(...fleet.errors);
  } finally {
    service?.close();
    fleet?.close();
    const code = await hub?.stop();
    if (hub && code !== 0) errors.push(`the hub exited with ${code}:\n${hub.output().slice(-2000)}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  printTwinReport(phases, errors);
  for (const check of checks) console.log(`read back: ${check}`);
  for (const p of phases) if (p.cost.profile !== undefined) printProfile(p.name, p.cost.profile);
  for (const e of errors) console.error(`error: ${e}`);
  if (errors.length > 0 || phases.length < 4) process.exitCode = 1;
}
