// `node dist/test/support/telemetry-log-writer.js FILE RUN`: opens the SQLite telemetry log in FILE and appends from
// CALLERS concurrent callers until it is killed. For each append it writes `partition sequenceNumber id` to stdout
// only after the append resolved, i.e. after the hub would have acknowledged it. The crash test kills it with
// SIGKILL and checks that every line it printed is in the log. Ids of run RUN start at RUN * 1e9. It says on stderr
// when a worker thread has taken over the WAL's checkpoints.
import { pathToFileURL } from 'node:url';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteTelemetryLog } from '../../src/storage/sqlite/sqlite-telemetry-log.js';
import { telemetryMigrations } from '../../src/storage/sqlite/telemetry-migrations.js';

export const WRITER_PARTITIONS = 4;
export const CHECKPOINT_WORKER_ACTIVE = 'checkpoint worker active';
const CALLERS = 200;
const ID_BYTES = 8;

/** 64 KiB of xorshift noise, a seventh of it zero bytes; the same in every process. */
const NOISE = (() => {
  const noise = Buffer.alloc(65_536);
  let x = 0x9e3779b9;
  for (let i = 0; i < noise.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    noise[i] = x % 7 === 0 ? 0 : x & 0xff;
  }
  return noise;
})();

/** The payload of append `id`: the id, then 40-439 bytes of noise taken from a place that depends on the id. */
export function payloadFor(id: number): Buffer {
  const length = 40 + (id % 400);
  const start = (id * 7919) % (NOISE.length - length);
  const payload = Buffer.alloc(ID_BYTES + length);
  payload.writeDoubleBE(id, 0);
  NOISE.copy(payload, ID_BYTES, start, start + length);
  return payload;
}

/** The id a payload claims to be for; the caller checks the rest with payloadFor. */
export function idOf(payload: Buffer): number {
  return payload.length >= ID_BYTES ? payload.readDoubleBE(0) : Number.NaN;
}

async function main(file: string, run: number): Promise<void> {
  const db = openSqliteDatabase(file, { migrations: telemetryMigrations, durability: 'wal-sync' });
  const log = new SqliteTelemetryLog(db, { partitionCount: WRITER_PARTITIONS });
  // Tells the crash test once a worker thread checkpoints the WAL (WalCheckpointer turns the connection's own off).
  const watch = setInterval(() => {
    if (db.pragma('wal_autocheckpoint', { simple: true }) !== 0) return;
    process.stderr.write(`${CHECKPOINT_WORKER_ACTIVE}\n`);
    clearInterval(watch);
  }, 20);
  let nextId = run * 1e9;
  let lines: string[] = [];
  // Written once per event-loop turn. stdout to a pipe is synchronous on Linux: once write returns, the parent can
  // read the lines even if this process is killed the next instant.
  const printLater = () => {
    process.stdout.write(lines.join(''));
    lines = [];
  };
  const caller = async (c: number) => {
    for (let n = 0; ; n++) {
      const id = nextId++;
      const event = await log.append({ partition: (c + n) % WRITER_PARTITIONS, payload: payloadFor(id) });
      if (lines.length === 0) setImmediate(printLater);
      lines.push(`${event.partition} ${event.sequenceNumber} ${id}\n`);
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, (_, c) => caller(c)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, run] = process.argv.slice(2);
  if (file === undefined || !/^\d+$/.test(run ?? '')) {
    process.stderr.write('usage: telemetry-log-writer FILE RUN\n');
    process.exit(2);
  }
  main(file, Number(run)).catch((err: unknown) => {
    process.stderr.write(`telemetry-log-writer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
