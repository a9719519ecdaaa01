import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { createSasToken } from '../../src/domain/sas.js';
import { startHubProcess, type HubProcess } from './hub-process.js';
import { rawRequest } from './https-client.js';
import { connectNats, NATS_SERVER } from './nats.js';
import { POSTGRES_URL, postgresUnavailable } from './postgres.js';
import { seededDataDir } from './test-ca.js';

const EPHEMERAL = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--bind', '127.0.0.1', '--log-level', 'warn'];

/** Why the scale-out backends cannot be used, or undefined when PostgreSQL and NATS JetStream both answer. */
export async function scaleOutUnavailable(): Promise<string | undefined> {
  const why = await postgresUnavailable();
  if (why) return why;
  const nats = await connectNats();
  await nats.nc?.close();
  return nats.unavailable;
}

/** The test that stands in for a cluster suite without its backends: skipped locally, failed under CI=true. */
export function scaleOutMissing(why: string): void {
  test('PostgreSQL and NATS are reachable', (t) => {
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
  });
}

export interface Cluster {
  hubName: string;
  nodes: HubProcess[];
  owner: SharedAccessPolicy;
  /** A service token of the iothubowner policy for the whole hub. */
  serviceToken(): string;
  /** A service REST call to `node` as iothubowner (api-version added), JSON body when given. */
  rest(node: HubProcess, method: string, path: string, body?: unknown, headers?: Record<string, string>): ReturnType<typeof rawRequest>;
  /** Stops the nodes and removes their data dirs, the PostgreSQL schema and the JetStream streams. */
  destroy(): Promise<void>;
}

/**
 * `count` hub processes on one fresh PostgreSQL schema and NATS, on ephemeral ports, started from copies of one data
 * dir (same CA, keys and hub name; everything else is in the backends). The hub name is unique per call; `extraArgs`
 * go to every node's `lazuli start`.
 */
export async function startCluster(count: number, label: string, extraArgs: string[] = []): Promise<Cluster> {
  const suffix = randomBytes(4).toString('hex');
  const hubName = `${label}-${suffix}`;
  const schema = `lazuli_${label.replace(/-/g, '_')}_${suffix}`;
  const backend = ['--store', `${POSTGRES_URL}?schema=${schema}`, '--log', `nats://${NATS_SERVER.replace(/^nats:\/\//, '')}`, ...extraArgs];
  const first = seededDataDir(`lazuli-${label}-`);
  const dirs = [first];
  const nodes: HubProcess[] = [];
  const destroy = async () => {
    for (const node of nodes) await node.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
    const nats = await connectNats();
    if (nats.nc) {
      const jsm = await nats.nc.jetstreamManager();
      for await (const stream of jsm.streams.list()) if (stream.config.name.startsWith(`lazuli-${hubName}`)) await jsm.streams.delete(stream.config.name);
      await nats.nc.close();
    }
  };
  try {
    nodes.push(await startHubProcess(first, ['--name', hubName, ...EPHEMERAL, ...backend]));
    for (let i = 1; i < count; i++) {
      const dir = `${first}-${i}`;
      cpSync(first, dir, { recursive: true });
      dirs.push(dir);
      nodes.push(await startHubProcess(dir, [...EPHEMERAL, ...backend]));
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  const owner = (JSON.parse(readFileSync(join(first, 'policies.json'), 'utf8')) as SharedAccessPolicy[]).find((p) => p.name === 'iothubowner')!;
  const serviceToken = () => createSasToken({ resource: 'localhost', keyBase64: owner.primaryKey, keyName: owner.name, expiry: Date.now() / 1000 + 600, encode: false });
  return {
    hubName,
    nodes,
    owner,
    serviceToken,
    rest: (node, method, path, body, headers = {}) =>
      rawRequest({
        port: node.settings.ports.https,
        ca: node.ca,
        method,
        path: `${path}?api-version=2021-04-12`,
        headers: { authorization: serviceToken(), 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    destroy,
  };
}
