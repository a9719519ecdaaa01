// `npm run bench -- registry [--clients N] [--devices N] [--reads N] [--duration-limit S]`: identity registry
// creates/s and reads/s over HTTPS against a hub in its own process, from N keep-alive connections.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readPolicies } from '../src/app/data-dir.js';
import { formatTable } from '../src/app/cli/table.js';
import { createSasToken } from '../src/domain/sas.js';
import { startHubProcess } from '../test/support/hub-process.js';
import { cpuSeconds } from './support/stats.js';
import { wholeNumber } from './support/flags.js';

const API = 'api-version=2021-04-12';
const REQUEST_TIMEOUT_MS = 10_000;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      clients: { type: 'string', default: '16' },
      devices: { type: 'string', default: '5000' },
      reads: { type: 'string', default: '20000' },
      'duration-limit': { type: 'string', default: '60' },
    },
  });
  const clients = wholeNumber(values.clients, 'clients', 1);
  const devices = wholeNumber(values.devices, 'devices', 1);
  const reads = wholeNumber(values.reads, 'reads', 0);
  const limitS = Number(values['duration-limit']);
  if (!(limitS > 0)) throw new Error(`--duration-limit must be a positive number of seconds, not "${values['duration-limit']}"`);

  const dataDir = mkdtempSync(join(tmpdir(), 'lazuli-bench-'));
  const hub = await startHubProcess(dataDir, ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0']).catch((err: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  const agent = new Agent({ keepAlive: true, maxSockets: clients, ca: hub.ca });
  try {
    const owner = readPolicies(dataDir)?.find((p) => p.name === 'iothubowner');
    if (!owner) throw new Error('the hub has no iothubowner policy');
    const auth = createSasToken({ resource: hub.settings.hostname, keyBase64: owner.primaryKey, keyName: owner.name, expiry: Date.now() / 1000 + 3600, encode: false });
    const call = (method: string, path: string, body?: string) => send({ host: 'localhost', port: hub.settings.ports.https, method, path, agent }, auth, body);
    console.log(`registry: hub pid ${hub.child.pid!} on https://localhost:${hub.settings.ports.https}, ${clients} clients, ${availableParallelism()} cores, node ${process.version}`);

    const created: number[] = [];
    const phases: Phase[] = [];
    phases.push(
      await phase(`create: PUT /devices/{id}`, devices, clients, limitS, hub.child.pid!, async (i) => {
        const failure = await call('PUT', `/devices/bench-${i}?${API}`, JSON.stringify({ deviceId: `bench-${i}` }));
        if (failure === undefined) created.push(i);
        return failure;
      }),
    );
    if (reads > 0 && created.length > 0) {
      phases.push(
        await phase(`read: GET /devices/{id}`, reads, clients, limitS, hub.child.pid!, () =>
          call('GET', `/devices/bench-${created[Math.floor(Math.random() * created.length)]}?${API}`),
        ),
      );
    }
    if (phases.some((p) => p.errors > 0)) process.exitCode = 1;
  } finally {
    agent.destroy();
    const code = await hub.stop();
    if (code !== 0) console.error(`the hub exited with ${code}:\n${hub.output()}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// --- one phase: `total` requests spread over `clients` concurrent loops --------------------------------------------

interface Phase {
  errors: number;
}

/** `send(i)` makes request i and resolves to undefined on success or a description of the failure. */
async function phase(title: string, total: number, clients: number, limitS: number, hubPid: number, send: (i: number) => Promise<string | undefined>): Promise<Phase> {
  const latenciesMs: number[] = [];
  const failures = new Map<string, number>();
  let next = 0;
  const hubCpu0 = cpuSeconds(hubPid);
  const ownCpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(limitS * 1e9));

  const loop = async () => {
    while (next < total && process.hrtime.bigint() < deadline) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      const failure = await send(i);
      latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (failure !== undefined) failures.set(failure, (failures.get(failure) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));

  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  const hubCpu1 = cpuSeconds(hubPid);
  const hubCpuS = hubCpu0 === undefined || hubCpu1 === undefined ? undefined : hubCpu1 - hubCpu0;
  const own = process.cpuUsage(ownCpu0);
  const ownCpuS = (own.user + own.system) / 1e6;
  const errors = [...failures.values()].reduce((a, b) => a + b, 0);

  latenciesMs.sort((a, b) => a - b);
  const ms = (p: number) => (latenciesMs[Math.max(0, Math.ceil((p / 100) * latenciesMs.length) - 1)] ?? 0).toFixed(2);
  console.log(`\n${title}`);
  process.stdout.write(
    formatTable(
      ['requests', 'errors', 'elapsed s', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'hub CPU s', 'hub CPU %', 'bench CPU %'],
      [
        [
          String(latenciesMs.length),
          String(errors),
          elapsedS.toFixed(2),
          (latenciesMs.length / elapsedS).toFixed(0),
          ms(50),
          ms(90),
          ms(99),
          (latenciesMs.at(-1) ?? 0).toFixed(2),
          hubCpuS === undefined ? 'n/a' : hubCpuS.toFixed(2),
          hubCpuS === undefined ? 'n/a' : ((100 * hubCpuS) / elapsedS).toFixed(0),
          ((100 * ownCpuS) / elapsedS).toFixed(0),
        ],
      ],
    ),
  );
  if (next < total) console.log(`stopped at the --duration-limit of ${limitS} s after ${next} of ${total} requests`);
  const worst = [...failures].sort((a, b) => b[1] - a[1]);
  for (const [failure, count] of worst.slice(0, 10)) console.log(`  ${count} x ${failure}`);
  if (worst.length > 10) console.log(`  ... and ${worst.length - 10} more distinct failures`);
  return { errors };
}

/** One request; undefined for a 2xx answer, else the status and the start of the body, or the transport error. */
function send(options: RequestOptions, authorization: string, body?: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { authorization };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    const req = request({ ...options, headers }, (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      let text = '';
      if (ok) res.resume();
      else res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(ok ? undefined : `${status} ${text.slice(0, 300)}`));
      res.on('error', (err) => resolve(`response error: ${err.message}`));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', (err) => resolve(`request error: ${err.message}`));
    req.end(body);
  });
}
