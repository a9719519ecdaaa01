// CPU spent during one measured run by each hub node, the NATS server, PostgreSQL (all its processes), this
// process (the load generator) and the whole machine: what a run cost, and where the cores went.
import { machineBusySeconds, pidsNamed, processSeconds } from './proc-cpu.js';

export interface MeteredProcess {
  label: string;
  pid: number;
}

export interface CpuReading {
  /** `node 1`…, `nats-server`, `postgres`, `load generator`, `machine`, `other` (machine less the rest). */
  label: string;
  /** CPU seconds during the run; undefined when it could not be read (no /proc, no such process). */
  seconds: number | undefined;
  /** How many processes were counted (postgres has one per connection); 0 when none was found. */
  processes: number;
}

export interface CpuMeasurement {
  wallSeconds: number;
  readings: CpuReading[];
}

type Snapshot = Map<string, { seconds: number | undefined; processes: number }>;

const BACKENDS = ['nats-server', 'postgres'] as const;

export class CpuMeter {
  private constructor(
    private readonly nodes: readonly MeteredProcess[],
    private readonly startedAt: number,
    private readonly start: Snapshot,
  ) {}

  static start(nodes: readonly MeteredProcess[]): CpuMeter {
    return new CpuMeter(nodes, performance.now(), snapshot(nodes));
  }

  stop(): CpuMeasurement {
    const end = snapshot(this.nodes);
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const readings = [...end].map(([label, after]) => {
      const before = this.start.get(label);
      const seconds = after.seconds === undefined || before?.seconds === undefined ? undefined : after.seconds - before.seconds;
      return { label, seconds, processes: Math.max(after.processes, before?.processes ?? 0) };
    });
    // What the machine spent beyond the processes above: the kernel's share of loopback traffic, and anything else
    // running meanwhile (a large figure means the run was disturbed).
    const machine = readings.find((r) => r.label === 'machine')?.seconds;
    const counted = readings.filter((r) => r.label !== 'machine').reduce((total, r) => total + (r.seconds ?? 0), 0);
    if (machine !== undefined) readings.push({ label: 'other', seconds: machine - counted, processes: 0 });
    return { wallSeconds, readings };
  }
}

function snapshot(nodes: readonly MeteredProcess[]): Snapshot {
  const out: Snapshot = new Map();
  for (const node of nodes) {
    const seconds = processSeconds(node.pid);
    out.set(node.label, { seconds, processes: seconds === undefined ? 0 : 1 });
  }
  for (const comm of BACKENDS) {
    // Summed over the family: backends forked during the run count whole, those reaped count via the postmaster.
    const pids = pidsNamed(comm);
    const seconds = pids.map(processSeconds).filter((s): s is number => s !== undefined);
    out.set(comm, { seconds: pids.length === 0 ? undefined : seconds.reduce((a, b) => a + b, 0), processes: pids.length });
  }
  const self = process.cpuUsage();
  out.set('load generator', { seconds: (self.user + self.system) / 1e6, processes: 1 });
  out.set('machine', { seconds: machineBusySeconds(), processes: 0 });
  return out;
}
