import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { LAZULI_BIN, startHubProcess, type HubProcess } from '../support/hub-process.js';
import { seededDataDir } from '../support/test-ca.js';

const run = promisify(execFile);
const EPHEMERAL = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--bind', '127.0.0.1'];

/** Runs `node bin/lazuli.js ARGS` as outside tools do; never throws, returns the exit code and both streams. */
async function lazuli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [LAZULI_BIN, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the lazuli command', () => {
  let hub: HubProcess;
  const dataDir = seededDataDir();
  before(async () => {
    hub = await startHubProcess(dataDir, [...EPHEMERAL, '--name', 'cli-hub', '--hostname', 'localhost']);
  });
  after(async () => {
    assert.equal(await hub.stop(), 0, 'SIGTERM stops the hub with exit code 0');
  });

  test('the data dir records the name, host name and bound ports', () => {
    const settings = JSON.parse(readFileSync(join(dataDir, 'hub.json'), 'utf8'));
    assert.equal(settings.name, 'cli-hub');
    assert.equal(settings.hostname, 'localhost');
    assert.equal(settings.ports.https, hub.settings.ports.https);
    assert.ok(settings.ports.https > 0);
    assert.equal(settings.partitions, 4);
  });

  test('connection-string prints only the service string, for any policy', async () => {
    const owner = await lazuli(['connection-string', '--data-dir', dataDir]);
    assert.equal(owner.code, 0);
    assert.match(owner.stdout, /^HostName=localhost:\d+;SharedAccessKeyName=iothubowner;SharedAccessKey=[A-Za-z0-9+/=]{44}\n$/);
    const reader = await lazuli(['connection-string', '--data-dir', dataDir, '--policy', 'registryRead']);
    assert.match(reader.stdout, /SharedAccessKeyName=registryRead;/);
    const missing = await lazuli(['connection-string', '--data-dir', dataDir, '--policy', 'nope']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /no shared access policy named "nope"/);
  });

  test('connection-string --eventhub prints the Event Hub-compatible string', async () => {
    const { stdout } = await lazuli(['connection-string', '--data-dir', dataDir, '--eventhub']);
    const amqp = hub.settings.ports.amqp;
    assert.match(stdout, new RegExp(`^Endpoint=sb://localhost:${amqp}/;SharedAccessKeyName=iothubowner;SharedAccessKey=[^;]+;EntityPath=cli-hub\\n$`));
  });

  test('connection-string reads environment variables for its flags', async () => {
    const { code, stdout } = await lazuli(['connection-string'], { LAZULI_DATA_DIR: dataDir });
    assert.equal(code, 0);
    assert.match(stdout, /^HostName=localhost:/);
  });

  test('device create, show, list, update, connection-string and delete go through the running hub', async () => {
    const created = await lazuli(['device', 'create', 'cli-dev', '--data-dir', dataDir, '--json']);
    assert.equal(created.code, 0, created.stderr);
    const device = JSON.parse(created.stdout);
    assert.equal(device.deviceId, 'cli-dev');

    const table = await lazuli(['device', 'list', '--data-dir', dataDir]);
    assert.match(table.stdout, /^DEVICE ID\s+STATUS/);
    assert.match(table.stdout, /\ncli-dev\s+enabled\s+Disconnected\s+sas/);

    const updated = await lazuli(['device', 'update', 'cli-dev', '--status', 'disabled', '--status-reason', 'lost', '--data-dir', dataDir, '--json']);
    assert.equal(JSON.parse(updated.stdout).status, 'disabled');
    const shown = await lazuli(['device', 'show', 'cli-dev', '--data-dir', dataDir]);
    assert.match(shown.stdout, /status\s+disabled \(lost\)/);

    const expected = `HostName=localhost:${hub.settings.ports.https};DeviceId=cli-dev;SharedAccessKey=${device.authentication.symmetricKey.primaryKey}\n`;
    const online = await lazuli(['device', 'connection-string', 'cli-dev', '--data-dir', dataDir]);
    assert.equal(online.stdout, expected, online.stderr);
    const offline = await lazuli(['connection-string', '--device', 'cli-dev', '--data-dir', dataDir]);
    assert.equal(offline.stdout, expected, `the offline form agrees: ${offline.stderr}`);

    assert.equal((await lazuli(['device', 'delete', 'cli-dev', '--data-dir', dataDir])).code, 0);
    const gone = await lazuli(['device', 'show', 'cli-dev', '--data-dir', dataDir]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /DeviceNotFound \(404\)/);
  });

  test('send over each protocol, then monitor reads the events back through the Event Hub endpoint', async () => {
    assert.equal((await lazuli(['device', 'create', 'cli-sender', '--data-dir', dataDir])).code, 0);
    for (const protocol of ['mqtt', 'amqp', 'https']) {
      const sent = await lazuli(['send', '--device', 'cli-sender', '--protocol', protocol, '--count', '2', '--property', `via=${protocol}`, '--data-dir', dataDir, `{"via":"${protocol}","n":{n}}`]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.match(sent.stdout, new RegExp(`sent 2/2 over ${protocol}`));
    }
    const monitored = await lazuli(['monitor', '--from', 'start', '--device', 'cli-sender', '--count', '6', '--json', '--properties', '--data-dir', dataDir]);
    assert.equal(monitored.code, 0, monitored.stderr);
    const events = monitored.stdout.trim().split('\n').map((line) => JSON.parse(line).event);
    assert.deepEqual(events.map((e) => `${e.payload.via}:${e.payload.n}`), ['mqtt:0', 'mqtt:1', 'amqp:0', 'amqp:1', 'https:0', 'https:1']);
    assert.deepEqual(events.map((e) => e.properties.application.via), ['mqtt', 'mqtt', 'amqp', 'amqp', 'https', 'https']);
    assert.ok(events.every((e) => e.origin === 'cli-sender'));
    const two = await lazuli(['monitor', '--from', 'start', '--count', '2', '--json', '--data-dir', dataDir]);
    assert.equal(two.stdout.trim().split('\n').length, 2, '--count stops after that many events');
  });

  test('consumer groups: create, list, delete; $Default dates from the hub\'s creation', async () => {
    assert.equal((await lazuli(['consumer-group', 'create', 'readers', '--data-dir', dataDir])).code, 0);
    const listed = await lazuli(['consumer-group', 'list', '--json', '--data-dir', dataDir]);
    const groups = JSON.parse(listed.stdout) as Array<{ name: string; createdAt: string }>;
    assert.deepEqual(groups.map((g) => g.name), ['$Default', 'readers']);
    const settings = JSON.parse(readFileSync(join(dataDir, 'hub.json'), 'utf8'));
    assert.equal(groups[0]!.createdAt, settings.createdAt);
    assert.equal((await lazuli(['consumer-group', 'delete', 'readers', '--data-dir', dataDir])).code, 0);
    const refused = await lazuli(['consumer-group', 'delete', '$Default', '--data-dir', dataDir]);
    assert.equal(refused.code, 1);
  });

  test('usage mistakes exit 2 with the usage', async () => {
    const unknown = await lazuli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const badFlag = await lazuli(['connection-string', '--colour']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--colour/);
  });

  test('a second start with another --name is refused: the name is fixed at creation', async () => {
    const r = await lazuli(['start', '--data-dir', dataDir, '--name', 'renamed', ...EPHEMERAL]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--name is fixed when a hub is created/);
  });
});

describe('lazuli start options', () => {
  test('a busy port exits with a message naming the port and the flag', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await lazuli(['start', '--data-dir', seededDataDir(), '--bind', '127.0.0.1', '--https-port', String(port), '--mqtt-port', '0', '--amqp-port', '0']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`cannot listen on port ${port} \\(EADDRINUSE`));
      assert.match(r.stderr, /--https-port/);
    } finally {
      blocker.close();
    }
  });

  test('serves a certificate the user supplies instead of issuing one', async () => {
    const dir = seededDataDir();
    const caDir = process.env.LAZULI_TEST_CA_DIR!;
    const hub = await startHubProcess(dir, [...EPHEMERAL, '--tls-cert', join(caDir, 'server.pem'), '--tls-key', join(caDir, 'server-key.pem')]);
    try {
      assert.ok(!existsSync(join(dir, 'server.pem')), 'no certificate was issued');
    } finally {
      assert.equal(await hub.stop(), 0);
    }
    const mismatched = await lazuli(['start', '--data-dir', dir, ...EPHEMERAL, '--tls-cert', join(caDir, 'server.pem'), '--tls-key', join(caDir, 'ca-key.pem')]);
    assert.equal(mismatched.code, 1);
    assert.match(mismatched.stderr, /server-key|ca-key|match/i);
  });

  test('takes its flags from LAZULI_* environment variables', async () => {
    const dir = seededDataDir();
    const hub = await startHubProcess(dir, [], { LAZULI_HTTPS_PORT: '0', LAZULI_MQTT_PORT: '0', LAZULI_AMQP_PORT: '0', LAZULI_BIND: '127.0.0.1', LAZULI_NAME: 'env-hub' });
    try {
      assert.equal(hub.settings.name, 'env-hub');
      assert.notEqual(hub.settings.ports.https, 443);
    } finally {
      assert.equal(await hub.stop(), 0);
    }
  });
});
