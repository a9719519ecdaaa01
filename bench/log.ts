// `npm run bench -- log [--callers N] [--events N] [--bytes N] [--partitions N]`: durable appends/s and append
// latency of the SQLite telemetry log (group commit, WAL, synchronous=FULL) on a temp file, from N concurrent
// callers that each append, wait for the append to be durable, and append again.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable } from '../src/app/cli/table.js';
import { openSqliteDatabase } from '../src/storage/sqlite/database.js';
import { SqliteTelemetryLog } from '../src/storage/sqlite/sqlite-telemetry-log.js';
import { telemetryMigrations } from '../src/storage/sqlite/telemetry-migrations.js';
import { wholeNumber } from './support/flags.js';

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      callers: { type: 'string', default: '200' },
      events: { type: 'string', default: '300000' },
      bytes: { type: 'string', default: '300' },
      partitions: { type: 'string', default: '4' },
    },
  });
  const callers = wholeNumber(values.callers, 'callers', 1);
  const events = wholeNumber(values.events, 'events', 1);
  const bytes = wholeNumber(values.bytes, 'bytes', 0);
  const partitions = wholeNumber(values.partitions, 'partitions', 1);

  const dir = mkdtempSync(join(tmpdir(), 'lazuli-bench-log-'));
  const log = new SqliteTelemetryLog(openSqliteDatabase(join(dir, 'telemetry.db'), { migrations: telemetryMigrations }), { partitionCount: partitions });
  try {
    console.log(`log: SQLite telemetry log in ${dir}, ${callers} callers, ${events} events of ${bytes} bytes, ${partitions} partitions, ${availableParallelism()} cores, node ${process.version}`);
    const payloads = Array.from({ length: 64 }, () => randomBytes(bytes));
    const batches = countBatches(log);
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
    process.stdout.write(
      formatTable(
        ['appends', 'elapsed s', 'appends/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'commits', 'appends/commit', 'CPU %'],
        [
          [
            String(latenciesMs.length),
            elapsedS.toFixed(2),
            (latenciesMs.length / elapsedS).toFixed(0),
            ms(50),
            ms(90),
            ms(99),
            (latenciesMs.at(-1) ?? 0).toFixed(2),
            String(batches.count),
            (latenciesMs.length / Math.max(1, batches.count)).toFixed(1),
            ((100 * (cpu.user + cpu.system)) / 1e6 / elapsedS).toFixed(0),
          ],
        ],
      ),
    );
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Commits, counted from onAppended: the log tells its listeners of one batch in one synchronous run. */
function countBatches(log: SqliteTelemetryLog): { count: number } {
  const counter = { count: 0 };
  let inBatch = false;
  log.onAppended(() => {
    if (inBatch) return;
    inBatch = true;
    counter.count++;
    queueMicrotask(() => (inBatch = false));
  });
  return counter;
}
