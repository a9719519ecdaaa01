// N `lazuli start` processes on the scale-out backends (state in PostgreSQL, telemetry and bus on NATS), started
// from copies of one data dir (same CA, keys and hub name), under a hub name and schema of their own that stop()
// removes again: the schema, the JetStream streams `lazuli-<name>-*` and the data dirs.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { deleteTelemetryStreams } from '../../src/storage/nats/telemetry-streams.js';
import { startHubProcess, type HubProcess } from '../../test/support/hub-process.js';
import { connectNats, NATS_SERVER } from '../../test/support/nats.js';
import { POSTGRES_URL, postgresUnavailable } from '../../test/support/postgres.js';

export interface ScaleOutNodes {
  hubName: string;
  schema: string;
  nodes: HubProcess[];
  /** Stops the nodes and deletes what they created; safe to call once whatever start reached. */
  stop(): Promise<void>;
}

/** Why the scale-out backends cannot be used, or undefined when PostgreSQL and NATS JetStream both answer. */
export async function scaleOutBackendsUnavailable(): Promise<string | undefined> {
  const why = await postgresUnavailable();
  if (why) return why;
  const nats = await connectNats();
  await nats.nc?.close();
  return nats.unavailable;
}

export async function startScaleOutNodes(count: number, extraArgs: readonly string[]): Promise<ScaleOutNodes> {
  const suffix = randomBytes(4).toString('hex');
  const hubName = `bench-d2c-${suffix}`;
  const schema = `lazuli_bench_d2c_${suffix}`;
  const args = ['--name', hubName, '--store', `${POSTGRES_URL}?schema=${schema}`, '--log', `nats://${NATS_SERVER.replace(/^nats:\/\//, '')}`, ...extraArgs];
  const firstDir = mkdtempSync(join(tmpdir(), 'lazuli-bench-node-'));
  const dirs = [firstDir];
  const nodes: HubProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    // Both clean-ups run even when one fails; the first failure is reported.
    const failures = (await Promise.allSettled([dropSchema(schema), deleteStreams(`lazuli-${hubName}`)])).filter((r) => r.status === 'rejected');
    if (failures.length > 0) throw failures[0]!.reason;
  };
  try {
    nodes.push(await startHubProcess(firstDir, args));
    for (let i = 1; i < count; i++) {
      const dir = `${firstDir}-${i + 1}`;
      cpSync(firstDir, dir, { recursive: true });
      dirs.push(dir);
      nodes.push(await startHubProcess(dir, args));
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { hubName, schema, nodes, stop };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

async function deleteStreams(prefix: string): Promise<void> {
  const nats = await connectNats();
  if (!nats.nc) throw new Error(nats.unavailable);
  try {
    await deleteTelemetryStreams(await nats.nc.jetstreamManager(), prefix);
  } finally {
    await nats.nc.close();
  }
}
