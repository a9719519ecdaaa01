// `npm run bench -- eventhub [--events N] [--size BYTES] [--partitions P] [--batch N] [--prefetch N] [--duration-limit S]
// [--profile DIR]`:
// events/s one EventHubConsumerClient reads from the Event Hub-compatible endpoint, all partitions from the earliest
// event, with the CPU split between the server process and the client process. The server is the endpoint on its
// rhea test server (TLS, MemoryTelemetryLog), preloaded before the clock starts. --profile writes both processes'
// V8 CPU profiles (.cpuprofile) to DIR.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { formatTable } from '../src/app/cli/table.js';
import { ensureCertificates } from '../src/app/tls/certificates.js';
import type { ClientReply, ClientRequest } from './eventhub/client-process.js';
import type { ServerReply, ServerRequest } from './eventhub/server-process.js';
import { cpuSeconds } from './support/stats.js';
import { wholeNumber } from './support/flags.js';

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      events: { type: 'string', default: '200000' },
      size: { type: 'string', default: '256' },
      partitions: { type: 'string', default: '4' },
      batch: { type: 'string', default: '500' },
      prefetch: { type: 'string', default: '1500' },
      'duration-limit': { type: 'string', default: '120' },
      profile: { type: 'string' },
    },
  });
  const events = wholeNumber(values.events, 'events', 1);
  const size = wholeNumber(values.size, 'size', 0);
  const partitions = wholeNumber(values.partitions, 'partitions', 1);
  const maxBatchSize = wholeNumber(values.batch, 'batch', 1);
  const prefetchCount = wholeNumber(values.prefetch, 'prefetch', 1);
  const limitS = Number(values['duration-limit']);
  if (!(limitS > 0)) throw new Error(`--duration-limit must be a positive number of seconds, not "${values['duration-limit']}"`);

  const execArgv = values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values.profile];
  const dir = mkdtempSync(join(tmpdir(), 'lazuli-bench-eh-'));
  const children: ChildProcess[] = [];
  try {
    const tls = await ensureCertificates(dir, { hostname: 'localhost' });
    const server = fork(fileURLToPath(new URL('./eventhub/server-process.js', import.meta.url)), { stdio: 'inherit', execArgv });
    children.push(server);
    server.send({ cert: tls.certPem, key: tls.keyPem, events, size, partitions } satisfies ServerRequest);
    const [ready] = (await once(server, 'message')) as [ServerReply];
    console.log(
      `eventhub: ${events} events of ${size} B body (${(ready.payloadBytes / events).toFixed(0)} B stored) in ${partitions} partitions, preloaded in ${(ready.preloadMs / 1000).toFixed(1)} s; ` +
        `client maxBatchSize ${maxBatchSize}, prefetch ${prefetchCount}; ${availableParallelism()} cores, node ${process.version}`,
    );

    const client = fork(fileURLToPath(new URL('./eventhub/client-process.js', import.meta.url)), {
      stdio: 'inherit',
      execArgv,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') },
    });
    children.push(client);
    const serverCpu0 = cpuSeconds(server.pid!);
    const clientCpu0 = cpuSeconds(client.pid!);
    const start = Date.now();
    client.send({ connectionString: ready.connectionString, events, maxBatchSize, prefetchCount } satisfies ClientRequest);

    const errors: string[] = [];
    const done = await new Promise<Extract<ClientReply, { kind: 'done' }> | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), limitS * 1000);
      client.on('message', (reply: ClientReply) => {
        if (reply.kind === 'error') errors.push(reply.message);
        if (reply.kind === 'done') {
          clearTimeout(timer);
          resolve(reply);
        }
      });
      client.once('exit', () => resolve(undefined));
    });
    const serverCpuS = delta(serverCpu0, cpuSeconds(server.pid!));
    const clientCpuS = delta(clientCpu0, cpuSeconds(client.pid!));
    if (!done) {
      process.exitCode = 1;
      console.log(`the client did not read ${events} events within ${limitS} s${errors.length ? `; errors: ${errors.slice(0, 5).join('; ')}` : ''}`);
      return;
    }

    const totalS = (done.lastAt - start) / 1000;
    const readS = (done.lastAt - done.firstAt) / 1000;
    const mb = (ready.payloadBytes * (done.received / events)) / 1e6;
    const us = (cpuS: number | undefined) => (cpuS === undefined ? 'n/a' : ((cpuS * 1e6) / done.received).toFixed(1));
    const pct = (cpuS: number | undefined) => (cpuS === undefined ? 'n/a' : ((100 * cpuS) / totalS).toFixed(0));
    process.stdout.write(
      '\n' +
        formatTable(
          ['events', 'out of order', 'batches', 'total s', 'read s', 'events/s', 'MB/s', 'server CPU s', 'server CPU %', 'server µs/event', 'client CPU s', 'client CPU %', 'client µs/event'],
          [
            [
              String(done.received),
              String(done.outOfOrder),
              String(done.batches),
              totalS.toFixed(2),
              readS.toFixed(2),
              (done.received / totalS).toFixed(0),
              (mb / totalS).toFixed(1),
              serverCpuS?.toFixed(2) ?? 'n/a',
              pct(serverCpuS),
              us(serverCpuS),
              clientCpuS?.toFixed(2) ?? 'n/a',
              pct(clientCpuS),
              us(clientCpuS),
            ],
          ],
        ),
    );
    console.log('total s: subscribe() to the last event (connect, CBS, attach included); read s: first to last event; events/s over total s.');
    if (errors.length > 0) console.log(`client errors: ${errors.slice(0, 5).join('; ')}`);
    if (done.outOfOrder > 0) process.exitCode = 1;
  } finally {
    // Disconnecting lets each child close and exit by itself (and write its profile); kill what lingers.
    for (const child of children) if (child.connected) child.disconnect();
    await Promise.all(children.map((child) => (child.exitCode === null ? Promise.race([once(child, 'exit'), sleep(5000)]) : undefined)));
    for (const child of children) if (child.exitCode === null) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

function delta(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}
