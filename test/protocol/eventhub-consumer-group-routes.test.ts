// Consumer groups over the REST API (Fastify with the app's error handler, HTTPS on an ephemeral port) and through
// `lazuli consumer-group`, which finds that server through a data dir.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { CliError } from '../../src/app/cli/cli-error.js';
import { consumerGroupCommand } from '../../src/app/cli/consumer-group-command.js';
import { loadOrCreatePolicies, writeSettings } from '../../src/app/data-dir.js';
import { ConsumerGroupService } from '../../src/core/eventhub/consumer-group-service.js';
import { createHub } from '../../src/core/hub.js';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { createSasToken } from '../../src/domain/sas.js';
import { httpErrorHandler } from '../../src/protocols/http/http-errors.js';
import { consumerGroupRoutes } from '../../src/protocols/http/consumer-group-routes.js';
import { MemoryTelemetryLog } from '../../src/storage/memory/memory-telemetry-log.js';
import { openSqliteDatabase, type SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteConsumerGroupStore } from '../../src/storage/sqlite/sqlite-consumer-group-store.js';
import { SqliteC2dStore } from '../../src/storage/sqlite/sqlite-c2d-store.js';
import { SqliteTwinStore } from '../../src/storage/sqlite/sqlite-twin-store.js';
import { LocalBus } from '../../src/fabric/local/local-bus.js';
import { SqliteRegistryStore } from '../../src/storage/sqlite/sqlite-registry-store.js';
import { rawRequest, type RawResponse } from '../support/https-client.js';
import { seededDataDir } from '../support/test-ca.js';

const dataDir = seededDataDir();
let app: FastifyInstance;
let db: SqliteDatabase;
let policies: SharedAccessPolicy[];
let port: number;

before(async () => {
  policies = loadOrCreatePolicies(dataDir);
  db = openSqliteDatabase(join(dataDir, 'lazuli.db'));
  const consumerGroupStore = new SqliteConsumerGroupStore(db);
  const hub = createHub({
    info: { name: 'cg-hub', hostname: 'localhost' },
    policies,
    registryStore: new SqliteRegistryStore(db),
    telemetryLog: new MemoryTelemetryLog(2),
    consumerGroupStore,
    c2dStore: new SqliteC2dStore(db),
    twinStore: new SqliteTwinStore(db),
    bus: new LocalBus(),
  });
  const consumerGroups = new ConsumerGroupService(consumerGroupStore);
  const caDir = process.env.LAZULI_TEST_CA_DIR!;
  app = Fastify({ https: { cert: readFileSync(join(caDir, 'server.pem')), key: readFileSync(join(caDir, 'server-key.pem')) } });
  app.setErrorHandler(httpErrorHandler(pino({ level: 'silent' })));
  await app.register(consumerGroupRoutes({ ...hub, consumerGroups }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
  const now = new Date().toISOString();
  writeSettings(dataDir, { name: 'cg-hub', hostname: 'localhost', bind: '127.0.0.1', ports: { https: port, amqp: 0, mqtt: 0 }, partitions: 2, createdAt: now, startedAt: now, pid: process.pid });
});
after(async () => {
  await app.close();
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function token(policy: string): string {
  const p = policies.find((x) => x.name === policy)!;
  return createSasToken({ resource: 'localhost', keyBase64: p.primaryKey, keyName: p.name, expiry: Date.now() / 1000 + 3600, encode: false });
}

function call(method: string, path: string, policy: string | null = 'iothubowner'): Promise<RawResponse> {
  return rawRequest({ port, ca: readFileSync(join(dataDir, 'ca.pem'), 'utf8'), method, path: `${path}?api-version=2021-04-12`, headers: policy ? { authorization: token(policy) } : {} });
}

function assertAzureError(res: RawResponse, status: number, code: string, message: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['iothub-errorcode'], code);
  assert.match(res.json().Message, new RegExp(`^ErrorCode:${code};`));
  assert.match(res.json().Message, message);
}

describe('consumer groups over REST', () => {
  test('a new hub has only $Default', async () => {
    const res = await call('GET', '/lazuli/consumerGroups');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json().map((g: { name: string }) => g.name), ['$Default']);
    assert.equal((await call('GET', '/lazuli/consumerGroups/%24default')).json().name, '$Default');
  });

  test('PUT creates (201), then answers the existing group (200)', async () => {
    const created = await call('PUT', '/lazuli/consumerGroups/Readers');
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json().name, 'Readers');
    assert.ok(Math.abs(Date.parse(created.json().createdAt) - Date.now()) < 60_000);
    const again = await call('PUT', '/lazuli/consumerGroups/readers');
    assert.equal(again.status, 200);
    assert.deepEqual(again.json(), created.json());
    assert.deepEqual((await call('GET', '/lazuli/consumerGroups/READERS')).json(), created.json());
    assert.deepEqual((await call('GET', '/lazuli/consumerGroups')).json().map((g: { name: string }) => g.name), ['$Default', 'Readers']);
  });

  test('DELETE removes a group (204); after that it is 404', async () => {
    await call('PUT', '/lazuli/consumerGroups/short-lived');
    assert.equal((await call('DELETE', '/lazuli/consumerGroups/SHORT-LIVED')).status, 204);
    assertAzureError(await call('GET', '/lazuli/consumerGroups/short-lived'), 404, 'NotFound', /"short-lived" does not exist/);
    assertAzureError(await call('DELETE', '/lazuli/consumerGroups/short-lived'), 404, 'NotFound', /"short-lived" does not exist/);
  });

  test('bad names and $Default are 400 ArgumentInvalid', async () => {
    assertAzureError(await call('PUT', '/lazuli/consumerGroups/-dash'), 400, 'ArgumentInvalid', /not a valid consumer group name/);
    assertAzureError(await call('PUT', `/lazuli/consumerGroups/${'x'.repeat(51)}`), 400, 'ArgumentInvalid', /not a valid consumer group name/);
    assertAzureError(await call('PUT', '/lazuli/consumerGroups/has%20space'), 400, 'ArgumentInvalid', /not a valid consumer group name/);
    assertAzureError(await call('PUT', '/lazuli/consumerGroups/%24Default'), 400, 'ArgumentInvalid', /built in/);
    assertAzureError(await call('DELETE', '/lazuli/consumerGroups/%24Default'), 400, 'ArgumentInvalid', /built in/);
  });

  test('reading needs ServiceConnect; creating and deleting need RegistryWrite', async () => {
    assert.equal((await call('GET', '/lazuli/consumerGroups', 'service')).status, 200);
    assertAzureError(await call('PUT', '/lazuli/consumerGroups/by-service', 'service'), 401, 'IotHubUnauthorizedAccess', /lacks the RegistryWrite permission/);
    assertAzureError(await call('GET', '/lazuli/consumerGroups', 'registryReadWrite'), 401, 'IotHubUnauthorizedAccess', /lacks the ServiceConnect permission/);
    assert.equal((await call('PUT', '/lazuli/consumerGroups/by-writer', 'registryReadWrite')).status, 201);
    assertAzureError(await call('DELETE', '/lazuli/consumerGroups/by-writer', 'registryRead'), 401, 'IotHubUnauthorizedAccess', /lacks the RegistryWrite permission/);
    assert.equal((await call('GET', '/lazuli/consumerGroups', null)).status, 401);
  });
});

/** Runs the command in this process, returning what it printed. */
async function lazuliConsumerGroup(...args: string[]): Promise<{ code: number; stdout: string }> {
  const chunks: string[] = [];
  const out = { write: (chunk: string | Uint8Array) => chunks.push(String(chunk)) > 0 };
  const code = await consumerGroupCommand([...args, '--data-dir', dataDir], {}, out);
  return { code, stdout: chunks.join('') };
}

describe('lazuli consumer-group', () => {
  test('create, list, delete', async () => {
    assert.deepEqual(await lazuliConsumerGroup('create', 'cli-group'), { code: 0, stdout: 'created cli-group\n' });
    const again = await lazuliConsumerGroup('create', 'CLI-GROUP');
    assert.match(again.stdout, /^cli-group already exists \(created \d{4}-\d\d-\d\dT/);
    const table = (await lazuliConsumerGroup('list')).stdout.split('\n');
    assert.match(table[0]!, /^NAME\s+CREATED$/);
    assert.ok(table.some((line) => /^\$Default\s+1970-01-01T00:00:00.000Z$/.test(line)), table.join('\n'));
    assert.ok(table.some((line) => line.startsWith('cli-group ')), table.join('\n'));
    assert.deepEqual(await lazuliConsumerGroup('delete', 'cli-group'), { code: 0, stdout: 'deleted cli-group\n' });
    assert.ok(!(await lazuliConsumerGroup('list')).stdout.includes('cli-group'));
  });

  test('--json for scripts', async () => {
    const created = JSON.parse((await lazuliConsumerGroup('create', 'json-group', '--json')).stdout);
    assert.equal(created.name, 'json-group');
    assert.equal(created.created, true);
    const listed = JSON.parse((await lazuliConsumerGroup('list', '--json')).stdout) as Array<{ name: string }>;
    assert.ok(listed.some((g) => g.name === 'json-group'));
    assert.deepEqual(JSON.parse((await lazuliConsumerGroup('delete', 'json-group', '--json')).stdout), { deleted: 'json-group' });
  });

  test("the hub's refusals become CLI errors with Azure's code", async () => {
    await assert.rejects(lazuliConsumerGroup('delete', 'nope'), (err: unknown) => err instanceof CliError && err.exitCode === 1 && /^NotFound \(404\): .*"nope" does not exist/.test(err.message));
    await assert.rejects(lazuliConsumerGroup('create', 'bad name'), (err: unknown) => err instanceof CliError && /^ArgumentInvalid \(400\)/.test(err.message));
  });

  test('usage mistakes exit 2', async () => {
    await assert.rejects(lazuliConsumerGroup('create'), (err: unknown) => err instanceof CliError && err.exitCode === 2 && /needs a consumer group name/.test(err.message));
    await assert.rejects(lazuliConsumerGroup('rename', 'a'), (err: unknown) => err instanceof CliError && err.exitCode === 2 && /one of create, list, delete/.test(err.message));
    await assert.rejects(lazuliConsumerGroup('delete', 'a', 'b'), (err: unknown) => err instanceof CliError && err.exitCode === 2);
  });
});
