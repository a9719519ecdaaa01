import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { HubSettings } from '../../src/app/data-dir.js';

const runFile = promisify(execFile);

export const LAZULI_BIN = new URL('../../../bin/lazuli.js', import.meta.url).pathname;

export interface HubProcess {
  child: ChildProcess;
  dataDir: string;
  settings: HubSettings;
  /** The CA the hub's certificate chains to (the data dir's ca.pem). */
  ca: string;
  /** Everything the hub wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

/** Runs `node bin/lazuli.js start` exactly as users and tools do, and waits until /health answers 200. */
export async function startHubProcess(dataDir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<HubProcess> {
  const child = spawn(process.execPath, [LAZULI_BIN, 'start', '--data-dir', dataDir, '--log-level', 'warn', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const settingsFile = join(dataDir, 'hub.json');
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`lazuli start exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`lazuli start was not ready within 20 s:\n${output}`);
    }
    if (existsSync(settingsFile)) {
      const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as HubSettings;
      const ca = settings.pid === child.pid ? readFileSync(join(dataDir, 'ca.pem'), 'utf8') : '';
      if (ca && (await healthy(settings.ports.https, ca))) {
        return {
          child,
          dataDir,
          settings,
          ca,
          output: () => output,
          /** SIGTERM, then SIGKILL if the hub has not exited within 10 s. */
          async stop() {
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            const code = await exited;
            clearTimeout(timer);
            return code;
          },
          async kill() {
            child.kill('SIGKILL');
            await exited;
          },
        };
      }
    }
    await sleep(50);
  }
}

function healthy(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: 'localhost', port, path: '/health', method: 'GET', ca, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** `node bin/lazuli.js ARGS` to its end; never throws. A command still running after 20 s is killed (code null). */
export async function runLazuli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [LAZULI_BIN, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number | null; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : null, stdout: e.stdout, stderr: e.stderr };
  }
}
