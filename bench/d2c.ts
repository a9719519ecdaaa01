// `npm run bench -- d2c [--devices N] [--seconds S] [--bytes B] [--inflight K] [--rate M] [--peers aedes,mosquitto|none] [--rounds R] [--nodes N] [--hub-cpu-prof DIR]`:
// N devices publish telemetry over MQTT/TLS at QoS 1. For Lazuli a PUBACK means "durable"; the figures are durable
// messages/s, PUBACK latency, and publish-to-Event-Hub-receive latency. The same load then runs against peer
// brokers on this machine (TLS, same certificate) and the ratio is printed. With --nodes N the load then runs against
// N hub nodes on PostgreSQL + NATS JetStream (devices spread round-robin over them), printed beside the embedded run
// with the CPU of each node, nats-server, postgres and the load generator. --hub-cpu-prof DIR profiles the embedded hub
// during its throughput run and prints where its time went. --rounds R repeats Lazuli and its peers R times, one after
// the other, and prints the median ratio: on a shared machine whose speed drifts, one round's ratio can be far off.
// --rate M paces the load to M messages/s in all (each device on a schedule, K in flight at most): every target then
// carries the same load, and the ratio printed is of server CPU per message, which drifts less than a saturated rate.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openEventHubReader } from '../src/app/cli/event-hub-reader.js';
import { formatTable } from '../src/app/cli/table.js';
import { readPolicies } from '../src/app/data-dir.js';
import { startHubProcess, type HubProcess } from '../test/support/hub-process.js';
import type { LoadDevice, MqttLoadResult } from '../test/support/mqtt-load.js';
import { startAedes, startMosquitto, type PeerBroker } from './peers/peer-brokers.js';
import { CpuMeter } from './support/cpu-meter.js';
import { printProfile } from './support/cpu-profile-summary.js';
import { timedLoad } from './support/d2c-load.js';
import { HubCpuProfiler, profilingEnv } from './support/hub-cpu-profile.js';
import { scaleOutRun, type MeasuredRun } from './support/d2c-scale-out.js';
import { printScaleOut } from './support/d2c-scale-out-report.js';
import { registerMqttDevices } from './support/register-devices.js';
import { wholeNumber } from './support/flags.js';
import { cpuSeconds, fixed, median, percentile } from './support/stats.js';

interface Row {
  target: string;
  round: number;
  result: MqttLoadResult;
  cpuS: number | undefined;
  e2e?: number[];
  note: string;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      devices: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '10' },
      bytes: { type: 'string', default: '256' },
      inflight: { type: 'string', default: '16' },
      peers: { type: 'string', default: 'aedes,mosquitto' },
      nodes: { type: 'string' },
      rounds: { type: 'string', default: '1' },
      rate: { type: 'string' },
      'hub-cpu-prof': { type: 'string' },
    },
  });
  const devices = Number(values.devices);
  const seconds = Number(values.seconds);
  const bytes = Number(values.bytes);
  const inflight = Number(values.inflight);
  const peers = values.peers === 'none' ? [] : values.peers.split(',');
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  const profDir = values['hub-cpu-prof'] === undefined ? undefined : resolve(values['hub-cpu-prof']);
  const rounds = wholeNumber(values.rounds, 'rounds', 1);
  const rate = values.rate === undefined ? undefined : wholeNumber(values.rate, 'rate', 1);
  if (nodes !== undefined && !(Number.isInteger(nodes) && nodes >= 1)) throw new Error(`--nodes must be a whole number of at least 1, not "${values.nodes}"`);
  console.log(`d2c: ${devices} devices, MQTT 3.1.1/TLS QoS 1, ${bytes}-byte messages, ${inflight} in flight per device${rate === undefined ? '' : `, paced to ${rate} msgs/s in all`}, ${seconds} s per target, ${availableParallelism()} cores, node ${process.version}`);

  const dataDir = mkdtempSync(join(tmpdir(), 'lazuli-bench-d2c-'));
  const rows: Row[] = [];
  let embedded: MeasuredRun | undefined;
  let hub: HubProcess | undefined;
  try {
    let load: LoadDevice[] | undefined;
    for (let round = 1; round <= rounds; round++) {
      hub = await startHubProcess(dataDir, ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--log-level', 'warn'], profDir === undefined ? {} : profilingEnv(profDir));
      load ??= await registerDevices(hub, devices); // the data dir keeps them for later rounds
      const profiler = profDir === undefined || round > 1 ? undefined : new HubCpuProfiler(profDir, hub.child.pid!);
      const lazuli = await lazuliRun(hub, load, { seconds, bytes, inflight, rate, profiler, endToEnd: round === 1 });
      rows.push({ ...lazuli.row, round });
      embedded ??= lazuli.measured;
      const { ca } = hub; // the peers serve the hub's certificate
      await hub.stop();
      hub = undefined;
      for (const name of peers) {
        const row = await peerRun(name, dataDir, ca, load, { seconds, bytes, inflight, rate });
        if (row) rows.push({ ...row, round });
      }
    }
  } finally {
    await hub?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  print(rows, rounds, rate !== undefined);
  if (nodes === undefined || embedded === undefined) return;
  try {
    printScaleOut([embedded, await scaleOutRun(nodes, devices, { seconds, bytes, inflight })]);
  } catch (err) {
    console.error(`scale-out: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

/** A peer broker on the hub's certificate (the data dir's), under the same load. */
async function peerRun(name: string, dataDir: string, ca: string, load: LoadDevice[], o: { seconds: number; bytes: number; inflight: number; rate: number | undefined }): Promise<Omit<Row, 'round'> | undefined> {
  const cert = join(dataDir, 'server.pem');
  const key = join(dataDir, 'server-key.pem');
  let peer: PeerBroker;
  try {
    peer = name === 'aedes' ? await startAedes(cert, key) : await startMosquitto(dataDir, cert, key);
  } catch (err) {
    console.error(`${name}: could not start: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  try {
    const peerDevices = load.map((d) => ({ clientId: d.clientId, topic: d.topic }));
    const cpu0 = cpuSeconds(peer.pid);
    const result = await timedLoad(peer.port, ca, peerDevices, o);
    const cpu1 = cpuSeconds(peer.pid);
    return { target: peer.name, result, cpuS: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0, note: `PUBACK = ${peer.durability}` };
  } finally {
    await peer.stop();
  }
}

async function registerDevices(hub: HubProcess, count: number): Promise<LoadDevice[]> {
  const ids = Array.from({ length: count }, (_, i) => `d2c-${i}`);
  return (await registerMqttDevices(hub, ids)).map((c) => ({ ...c, topic: `devices/${c.clientId}/messages/events/` }));
}

async function lazuliRun(
  hub: HubProcess,
  devices: LoadDevice[],
  o: { seconds: number; bytes: number; inflight: number; rate: number | undefined; profiler?: HubCpuProfiler | undefined; endToEnd: boolean },
): Promise<{ row: Omit<Row, 'round'>; measured: MeasuredRun }> {
  // Throughput first, with nothing else in this process: on two cores the load generator needs one to itself.
  const cpu0 = cpuSeconds(hub.child.pid!);
  const meter = CpuMeter.start([{ label: 'node 1', pid: hub.child.pid! }]);
  o.profiler?.start();
  const result = await timedLoad(hub.settings.ports.mqtt, hub.ca, devices, o);
  const cpu = meter.stop();
  const cpu1 = cpuSeconds(hub.child.pid!);
  if (o.profiler) printProfile('throughput', await o.profiler.stop('d2c-throughput'));
  const e2e = o.endToEnd ? await endToEndLatency(hub, devices.slice(0, 100), o.bytes) : undefined;
  return {
    row: { target: 'lazuli', result, cpuS: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0, ...(e2e ? { e2e } : {}), note: 'PUBACK = durable (fsynced SQLite commit); e2e measured apart (first round), 100 devices sending one message at a time for 5 s' },
    measured: { label: 'embedded: 1 node, SQLite', nodes: 1, result, nodeAcked: [result.acked], cpu },
  };
}

/** Publish-to-receive latency through the Event Hub-compatible endpoint, at a load the reader can follow. */
async function endToEndLatency(hub: HubProcess, devices: LoadDevice[], bytes: number): Promise<number[]> {
  const owner = readPolicies(hub.dataDir)!.find((p) => p.name === 'iothubowner')!;
  const e2e: number[] = [];
  const reader = await openEventHubReader({
    host: 'localhost',
    port: hub.settings.ports.amqp,
    hostname: 'localhost',
    ca: hub.ca,
    hubName: hub.settings.name,
    consumerGroup: '$Default',
    policyName: owner.name,
    policyKey: owner.primaryKey,
    partitionCount: hub.settings.partitions,
    filter: "amqp.annotation.x-opt-offset > '@latest'",
    onEvent: (_partition, message) => {
      const body = message.body as { content?: Buffer } | Buffer;
      const content = Buffer.isBuffer(body) ? body : body.content;
      const sentAt = Number(content?.subarray(0, 20).toString().split('|')[0]);
      if (sentAt > 0) e2e.push(performance.timeOrigin + performance.now() - sentAt);
    },
    onError: () => undefined, // closing the reader at the end resets the connection
  });
  try {
    await new Promise((r) => setTimeout(r, 500)); // receivers attached
    await timedLoad(hub.settings.ports.mqtt, hub.ca, devices, { seconds: 5, bytes, inflight: 1, payload: (device, sequence) => timestamped(device, sequence, bytes) });
    await new Promise((r) => setTimeout(r, 1000)); // let the reader drain
  } finally {
    reader.close();
  }
  return e2e;
}

/** `{send time, ms since epoch}|{device}:{sequence}|` then filler. */
function timestamped(device: number, sequence: number, bytes: number): Buffer {
  const head = Buffer.from(`${(performance.timeOrigin + performance.now()).toFixed(3)}|${device}:${sequence}|`);
  const out = Buffer.alloc(Math.max(bytes, head.length), 0x61);
  head.copy(out);
  return out;
}

function print(rows: Row[], rounds: number, paced: boolean): void {
  const table = rows.map((r) => {
    const lat = r.result.latencies.map((ns) => Number(ns) / 1e6).sort((a, b) => a - b);
    const e2e = (r.e2e ?? []).sort((a, b) => a - b);
    const target = rounds > 1 ? `${r.target} #${r.round}` : r.target;
    return [target, String(r.result.connected), String(r.result.acked), fixed(r.result.elapsedMs / 1000), fixed(rateOf(r), 0), fixed(percentile(lat, 50)), fixed(percentile(lat, 99)), fixed(percentile(e2e, 50)), fixed(percentile(e2e, 99)), r.cpuS === undefined ? '-' : fixed((100 * r.cpuS) / (r.result.elapsedMs / 1000), 0), r.cpuS === undefined ? '-' : fixed((r.cpuS * 1e6) / r.result.acked, 1), String(r.result.errors.length)];
  });
  console.log(formatTable(['target', 'devices', 'acked', 'elapsed s', 'msgs/s', 'puback p50 ms', 'puback p99 ms', 'e2e p50 ms', 'e2e p99 ms', 'server CPU %', 'server CPU µs/msg', 'errors'], table));
  for (const r of rows.filter((row) => row.round === 1)) {
    console.log(`${r.target}: ${r.note}${r.result.errors.length ? `; first error: ${r.result.errors[0]}` : ''}`);
  }
  const peerNames = [...new Set(rows.filter((r) => r.target !== 'lazuli').map((r) => r.target))];
  for (const name of peerNames) {
    const ratios: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const lazuli = rows.find((r) => r.target === 'lazuli' && r.round === round);
      const peer = rows.find((r) => r.target === name && r.round === round);
      if (!lazuli || !peer) continue;
      if (!paced) ratios.push(rateOf(lazuli) / rateOf(peer));
      else if (lazuli.cpuS !== undefined && peer.cpuS !== undefined) ratios.push(cpuPerMessage(lazuli) / cpuPerMessage(peer));
    }
    if (ratios.length === 0) continue;
    const each = ratios.length > 1 ? ` (median of ${ratios.map((r) => r.toFixed(2)).join(', ')})` : '';
    console.log(`lazuli / ${name} ${paced ? 'server CPU per message (below 1: Lazuli spends less)' : 'msgs/s'}: ${median(ratios).toFixed(2)}${each}`);
  }
  if (rows.some((r) => r.result.errors.length > 0 || r.result.connected === 0)) process.exitCode = 1;
}

function cpuPerMessage(r: Row): number {
  return r.cpuS! / r.result.acked;
}

function rateOf(r: Row): number {
  return r.result.acked / (r.result.elapsedMs / 1000);
}
