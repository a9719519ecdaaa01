import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteTelemetryLog } from '../../src/storage/sqlite/sqlite-telemetry-log.js';
import { telemetryMigrations } from '../../src/storage/sqlite/telemetry-migrations.js';
import { CHECKPOINT_WORKER_ACTIVE, idOf, payloadFor, WRITER_PARTITIONS } from '../support/telemetry-log-writer.js';

const WRITER = new URL('../support/telemetry-log-writer.js', import.meta.url).pathname;
const RUNS = 3;
const LOAD_MS = 1000;
const NO_OUTPUT_MS = 10_000;
const CHECKPOINT_WAIT_MS = 15_000;

interface Ack {
  partition: number;
  sequenceNumber: number;
  id: number;
}

/**
 * Runs the writer until it has acknowledged appends for LOAD_MS, then SIGKILLs it; returns every complete ack line.
 * With `duringCheckpoints`, the kill waits until a worker thread checkpoints the WAL, then comes 0-300 ms later.
 */
async function writeAndKill(file: string, run: number, duringCheckpoints = false): Promise<Ack[]> {
  const child = spawn(process.execPath, [WRITER, file, String(run)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let killTimer: NodeJS.Timeout | undefined;
  const silence = setTimeout(() => child.kill('SIGKILL'), NO_OUTPUT_MS);
  const giveUp = duringCheckpoints ? setTimeout(() => child.kill('SIGKILL'), CHECKPOINT_WAIT_MS) : undefined;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (duringCheckpoints && stderr.includes(CHECKPOINT_WORKER_ACTIVE)) killTimer ??= setTimeout(() => child.kill('SIGKILL'), Math.random() * 300);
  });
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    clearTimeout(silence);
    if (!duringCheckpoints) killTimer ??= setTimeout(() => child.kill('SIGKILL'), LOAD_MS);
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(silence);
  clearTimeout(killTimer);
  clearTimeout(giveUp);
  assert.equal(signal, 'SIGKILL', `the writer ended by itself (code ${code}): ${stderr}`);
  if (duringCheckpoints) assert.ok(stderr.includes(CHECKPOINT_WORKER_ACTIVE), `no worker took the checkpoints over within ${CHECKPOINT_WAIT_MS} ms: ${stderr}`);
  assert.ok(killTimer !== undefined, `the writer acknowledged nothing within ${NO_OUTPUT_MS} ms: ${stderr}`);
  // A line cut short by the kill was never acknowledged; every complete one was.
  return stdout
    .split('\n')
    .slice(0, -1)
    .map((line) => {
      const [partition, sequenceNumber, id] = line.split(' ').map(Number);
      return { partition: partition!, sequenceNumber: sequenceNumber!, id: id! };
    });
}

/** Reopens the log and checks: no gaps, every payload intact, every acknowledged append where it was acknowledged. */
async function verify(file: string, acked: readonly Ack[]): Promise<number> {
  const log = new SqliteTelemetryLog(openSqliteDatabase(file, { migrations: telemetryMigrations }), { partitionCount: WRITER_PARTITIONS });
  try {
    const stored: number[][] = [];
    for (let partition = 0; partition < WRITER_PARTITIONS; partition++) {
      const ids: number[] = [];
      for (let page = await log.read(partition, 0, 10_000); page.length > 0; page = await log.read(partition, ids.length, 10_000)) {
        for (const event of page) {
          assert.equal(event.sequenceNumber, ids.length, `partition ${partition}: a gap before ${event.sequenceNumber}`);
          const id = idOf(event.payload);
          assert.ok(Number.isSafeInteger(id) && payloadFor(id).equals(event.payload), `partition ${partition}/${event.sequenceNumber}: payload damaged`);
          ids.push(id);
        }
      }
      assert.equal((await log.partitionInfo(partition)).lastEnqueuedSequenceNumber, ids.length - 1);
      stored.push(ids);
    }
    const lost = acked.filter((a) => stored[a.partition]?.[a.sequenceNumber] !== a.id);
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${acked.length} acknowledged appends are missing or different`);
    return stored.reduce((sum, ids) => sum + ids.length, 0);
  } finally {
    await log.close();
  }
}

test(`kill -9 under load loses no acknowledged append (${RUNS} runs on one file)`, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazuli-telemetry-crash-'));
  const file = path.join(dir, 'telemetry.db');
  try {
    let acked: Ack[] = [];
    let stored = 0;
    for (let run = 0; run < RUNS; run++) {
      // The last run is killed while a worker thread checkpoints the WAL (it takes over once the WAL passed 1 MiB).
      const acks = await writeAndKill(file, run, run === RUNS - 1);
      assert.ok(acks.length >= 1000, `run ${run}: only ${acks.length} appends acknowledged under load`);
      acked = acked.concat(acks);
      const total = await verify(file, acked);
      assert.ok(total > stored, `run ${run} appended nothing after the restart`);
      stored = total;
      t.diagnostic(`run ${run}: ${acks.length} appends acknowledged before the kill; ${total} events stored in all`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
