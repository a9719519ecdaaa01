// Prints the embedded single-node run beside the scale-out run: throughput and PUBACK latency, then the CPU of every
// node, nats-server, postgres, the load generator and the machine, each also per 1,000 durable messages.
import { availableParallelism } from 'node:os';
import { formatTable } from '../../src/app/cli/table.js';
import type { CpuReading } from './cpu-meter.js';
import type { MeasuredRun } from './d2c-scale-out.js';
import { fixed, percentile } from './stats.js';

export function printScaleOut(runs: readonly MeasuredRun[]): void {
  console.log(`\nembedded vs scale-out (${runs.map((r) => r.label).join(' | ')})`);
  console.log(formatTable(['run', 'nodes', 'devices', 'acked', 'elapsed s', 'msgs/s', 'puback p50 ms', 'puback p99 ms', 'errors'], runs.map(throughputRow)));
  const [base, ...others] = runs;
  for (const other of others) if (base) console.log(`${other.label} / ${base.label} msgs/s: ${(rate(other) / rate(base)).toFixed(2)}`);

  const labels = [...new Set(runs.flatMap((r) => r.cpu.readings.map((c) => c.label)))].sort(byRole);
  const headers = ['process', ...runs.flatMap((_, i) => [`[${i + 1}] CPU s`, `[${i + 1}] CPU %`, `[${i + 1}] CPU µs / 1k msgs`])];
  const rows = labels.map((label) => [describe(label, runs), ...runs.flatMap((run) => cpuCells(run, label))]);
  console.log(`\nCPU during each run's load (connect + publish), 100% = one core; [n] = run n above; ${availableParallelism()} cores shared by everything`);
  console.log(formatTable(headers, rows));
  console.log('node n: its CPU per 1,000 messages its own devices had acknowledged (in [1], node 1 is the embedded hub); other rows: per 1,000 messages of the whole run.');
}

function throughputRow(run: MeasuredRun): string[] {
  const lat = run.result.latencies.map((ns) => Number(ns) / 1e6).sort((a, b) => a - b);
  return [run.label, String(run.nodes), String(run.result.connected), String(run.result.acked), fixed(run.result.elapsedMs / 1000), fixed(rate(run), 0), fixed(percentile(lat, 50)), fixed(percentile(lat, 99)), String(run.result.errors.length)];
}

function cpuCells(run: MeasuredRun, label: string): string[] {
  const reading = run.cpu.readings.find((c) => c.label === label);
  if (reading?.seconds === undefined) return ['-', '-', '-'];
  const seconds = Math.abs(reading.seconds) < 0.05 ? 0 : reading.seconds; // no "-0.00" for rounding noise in `other`
  const node = /^node (\d+)$/.exec(label);
  const messages = node ? run.nodeAcked[Number(node[1]) - 1] ?? 0 : run.result.acked;
  return [fixed(seconds), fixed((100 * seconds) / run.cpu.wallSeconds, 0), messages === 0 ? '-' : fixed((seconds * 1e6 * 1000) / messages, 0)];
}

function describe(label: string, runs: readonly MeasuredRun[]): string {
  if (label === 'machine') return `machine (busy, of ${availableParallelism() * 100}%)`;
  if (label === 'other') return 'other (machine less the rows above)';
  const counts = runs.map((r) => r.cpu.readings.find((c) => c.label === label)).filter((c): c is CpuReading => c !== undefined && c.processes > 1);
  return counts.length > 0 ? `${label} (${Math.max(...counts.map((c) => c.processes))} processes)` : label;
}

const ROLE_ORDER = ['nats-server', 'postgres', 'load generator', 'other', 'machine'];

function byRole(a: string, b: string): number {
  const rank = (label: string) => (label.startsWith('node ') ? Number(label.slice(5)) - 1000 : ROLE_ORDER.indexOf(label));
  return rank(a) - rank(b);
}

function rate(run: MeasuredRun): number {
  return run.result.acked / (run.result.elapsedMs / 1000);
}
