import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { HubCpuProfiler } from './hub-cpu-profile.js';
import { machineBusySeconds } from './proc-cpu.js';
import { cpuSeconds } from './stats.js';

/** What a phase cost: wall time, the hub's CPU, this process's CPU and event-loop delay, and the hub's CPU profile. */
export interface PhaseCost {
  wallS: number;
  hubCpuS: number | undefined;
  loadCpuS: number;
  /** CPU seconds of every other process on the machine (the cores are shared: a busy neighbour skews the figures). */
  otherCpuS: number | undefined;
  /** Event-loop delay p99 of this process, ms: whether the load itself kept up. */
  loadLoopP99Ms: number;
  /** With --hub-cpu-prof: the hub's .cpuprofile of the phase. */
  profile?: string;
}

/** Measures one phase from construction to stop(). */
export class PhaseMeter {
  readonly #hubPid: number;
  readonly #hubCpu0: number | undefined;
  readonly #machineCpu0 = machineBusySeconds();
  readonly #loadCpu0 = process.cpuUsage();
  readonly #loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });
  readonly #started: number;

  constructor(
    hubPid: number,
    private readonly profiler: HubCpuProfiler | undefined,
  ) {
    this.#hubPid = hubPid;
    profiler?.start();
    this.#hubCpu0 = cpuSeconds(hubPid);
    this.#loopDelay.enable();
    this.#started = performance.now();
  }

  async stop(profileName: string): Promise<PhaseCost> {
    const wallS = (performance.now() - this.#started) / 1000;
    const hubCpu1 = cpuSeconds(this.#hubPid);
    const machineCpu1 = machineBusySeconds();
    const loadCpu = process.cpuUsage(this.#loadCpu0);
    this.#loopDelay.disable();
    const profile = await this.profiler?.stop(profileName);
    const hubCpuS = this.#hubCpu0 === undefined || hubCpu1 === undefined ? undefined : hubCpu1 - this.#hubCpu0;
    const loadCpuS = (loadCpu.user + loadCpu.system) / 1e6;
    const machineCpuS = this.#machineCpu0 === undefined || machineCpu1 === undefined ? undefined : machineCpu1 - this.#machineCpu0;
    return {
      wallS,
      hubCpuS,
      loadCpuS,
      otherCpuS: machineCpuS === undefined || hubCpuS === undefined ? undefined : Math.max(0, machineCpuS - hubCpuS - loadCpuS),
      loadLoopP99Ms: this.#loopDelay.percentile(99) / 1e6,
      ...(profile === undefined ? {} : { profile }),
    };
  }
}

/** Busy CPU seconds of the whole machine, all cores, from /proc/stat (ticks of 1/100 s); undefined without /proc. */
