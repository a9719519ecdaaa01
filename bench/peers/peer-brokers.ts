import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { accepts, freePort } from '../../test/support/local-ports.js';

export interface PeerBroker {
  name: string;
  port: number;
  pid: number;
  /** What the peer promises when it sends PUBACK, for the printed comparison. */
  durability: string;
  stop(): Promise<void>;
}

/** aedes from npm in its own process, TLS with the given certificate. */
export async function startAedes(certFile: string, keyFile: string): Promise<PeerBroker> {
  const child = spawn(process.execPath, [new URL('./aedes-server.js', import.meta.url).pathname, certFile, keyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
    child.once('exit', (code) => reject(new Error(`aedes exited with ${code}`)));
  });
  return { name: 'aedes', port, pid: child.pid!, durability: 'in memory (aedes default persistence)', stop: () => stop(child) };
}

/** Debian's Mosquitto with a TLS listener on a free port, persistence as configured by default (off). */
export async function startMosquitto(dir: string, certFile: string, keyFile: string): Promise<PeerBroker> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, `certfile ${certFile}`, `keyfile ${keyFile}`, 'allow_anonymous true', 'persistence false', 'max_inflight_messages 0', 'max_queued_messages 0',
    // Started as root, Mosquitto drops to its own user, which cannot read the bench's private temp dir.
    ...(process.getuid?.() === 0 ? ['user root'] : []), ''].join('\n'));
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${stderr}`);
    if (await accepts(port)) return { name: 'mosquitto', port, pid: child.pid!, durability: 'in memory (persistence false)', stop: () => stop(child) };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`mosquitto did not listen on ${port}: ${stderr}`);
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
