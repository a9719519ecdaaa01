// `npm run bench -- log-nats [--callers N] [--events N] [--bytes N] [--partitions N] [--server HOST:PORT]`: acknowledged
// appends/s and append latency of the JetStream telemetry log (PubAck from file-backed streams, one per partition)
// next to the SQLite telemetry log (group commit, WAL, synchronous=FULL) in the same run, from N concurrent callers
// that each append, wait for the append to be acknowledged, and append again. CPU % is this process only: the NATS
// server's own CPU is not counted.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { formatTable } from '../src/app/cli/table.js';
import type { TelemetryLog } from '../src/ports/telemetry-log.js';
import { JetStreamTelemetryLog } from '../src/storage/nats/jetstream-telemetry-log.js';
import { deleteTelemetryStreams } from '../src/storage/nats/telemetry-streams.js';
import { openSqliteDatabase } from '../src/storage/sqlite/database.js';
import { SqliteTelemetryLog } from '../src/storage/sqlite/sqlite-telemetry-log.js';
import { telemetryMigrations } from '../src/storage/sqlite/telemetry-migrations.js';
import { wholeNumber } from './support/flags.js';

interface Load {
  callers: number;
  events: number;
  partitions: number;
  payloads: Buffer[];
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      callers: { type: 'string', default: '200' },
      events: { type: 'string', default: '100000' },
      bytes: { type: 'string', default: '300' },
      partitions: { type: 'string', default: '4' },
      server: { type: 'string', default: '127.0.0.1:4222' },
    },
  });
  const bytes = wholeNumber(values.bytes, 'bytes', 0);
  const load: Load = {
    callers: wholeNumber(values.callers, 'callers', 1),
    events: wholeNumber(values.events, 'events', 1),
    partitions: wholeNumber(values.partitions, 'partitions', 1),
    payloads: Array.from({ length: 64 }, () => randomBytes(bytes)),
  };
  console.log(`log-nats: ${load.callers} callers, ${load.events} events of ${bytes} bytes, ${load.partitions} partitions, NATS at ${values.server}, ${availableParallelism()} cores, node ${process.version}`);

  const rows: string[][] = [];
  // Without noAsyncTraces the client builds an Error (a stack capture) per request: about 20% of its append CPU.
  const nc = await connect({ servers: values.server, timeout: 2000, noAsyncTraces: true });
  const prefix = `lazuli-bench-${randomBytes(4).toString('hex')}`;
  try {
    const log = await JetStreamTelemetryLog.open(nc, { prefix, partitionCount: load.partitions });
    try {
      rows.push(['JetStream', ...(await measure(log, load))]);
    } finally {
      await log.close();
    }
  } finally {
    await deleteTelemetryStreams(await nc.jetstreamManager(), prefix);
    await nc.close();
  }

  const dir = mkdtempSync(join(tmpdir(), 'lazuli-bench-log-'));
  try {
    const log = new SqliteTelemetryLog(openSqliteDatabase(join(dir, 'telemetry.db'), { migrations: telemetryMigrations }), { partitionCount: load.partitions });
    try {
      rows.push(['SQLite', ...(await measure(log, load))]);
    } finally {
      await log.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(formatTable(['log', 'appends', 'elapsed s', 'appends/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'CPU %'], rows));
}

async function measure(log: TelemetryLog, { callers, events, partitions, payloads }: Load): Promise<string[]> {
  const latenciesMs: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < events) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await log.append({ partition: i % partitions, payload: payloads[i % payloads.length]! });
        latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  latenciesMs.sort((a, b) => a - b);
  const ms = (p: number) => (latenciesMs[Math.max(0, Math.ceil((p / 100) * latenciesMs.length) - 1)] ?? 0).toFixed(2);
  return [
    String(latenciesMs.length),
    elapsedS.toFixed(2),
    (latenciesMs.length / elapsedS).toFixed(0),
    ms(50),
    ms(90),
    ms(99),
    (latenciesMs.at(-1) ?? 0).toFixed(2),
    ((100 * (cpu.user + cpu.system)) / 1e6 / elapsedS).toFixed(0),
  ];
}
