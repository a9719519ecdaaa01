import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const CPU_PROF_DIR_ENV = 'LAZULI_BENCH_CPU_PROF_DIR';

const PRELOAD = new URL('./cpu-profile-preload.js', import.meta.url).href;
const WRITE_LIMIT_MS = 30_000;

/** Where the n-th profile of process `pid` is written; it appears whole (written aside, then renamed). */
export function profileFile(dir: string, pid: number, n: number): string {
  return join(dir, `${pid}-${n}.cpuprofile`);
}

/** The environment that makes a hub process profilable by HubCpuProfiler (see cpu-profile-preload.ts). */
export function profilingEnv(dir: string): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim(), [CPU_PROF_DIR_ENV]: dir };
}

/** Profiles stretches of a hub process started with profilingEnv: start(), then stop(name) writes {dir}/{name}.cpuprofile. */
export class HubCpuProfiler {
  private stopped = 0;

  constructor(
    private readonly dir: string,
    private readonly pid: number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  start(): void {
    process.kill(this.pid, 'SIGUSR2');
  }

  /** Resolves the profile's path once the hub wrote it. */
  async stop(name: string): Promise<string> {
    process.kill(this.pid, 'SIGUSR2');
    const written = profileFile(this.dir, this.pid, ++this.stopped);
    const deadline = Date.now() + WRITE_LIMIT_MS;
    while (!existsSync(written)) {
      if (Date.now() > deadline) throw new Error(`the hub wrote no CPU profile to ${written}`);
      await sleep(50);
    }
    const named = join(this.dir, `${name}.cpuprofile`);
    renameSync(written, named);
    return named;
  }
}
