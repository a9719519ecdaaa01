// Preloaded into a hub process (`NODE_OPTIONS=--import=<this file>`; Node 20 allows no --cpu-prof there) so that a
// benchmark can profile just its measured phases: each SIGUSR2 toggles the V8 CPU profiler, and stopping writes
// {pid}-{n}.cpuprofile (Chrome DevTools format; n counts from 1) into $LAZULI_BENCH_CPU_PROF_DIR.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { CPU_PROF_DIR_ENV, profileFile } from './hub-cpu-profile.js';

/** Sampling interval, µs. */
const INTERVAL_US = 1000;

const dir = process.env[CPU_PROF_DIR_ENV];
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: INTERVAL_US });
  let running = false;
  let written = 0;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.start');
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      mkdirSync(dir, { recursive: true });
      const file = profileFile(dir, process.pid, ++written);
      writeFileSync(`${file}.partial`, JSON.stringify(result.profile));
      renameSync(`${file}.partial`, file);
    });
  });
}
