// `lazuli twin show|update-desired|tags` and `lazuli query` against a hub process.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { HubRestClient } from '../../src/app/cli/hub-rest-client.js';
import { type HubProcess, runLazuli, startHubProcess } from '../support/hub-process.js';
import { seededDataDir } from '../support/test-ca.js';

const EPHEMERAL = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--bind', '127.0.0.1'];
const DEVICES = ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5'];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

type Twin = Record<string, any>;

describe('lazuli twin and lazuli query', () => {
  let hub: HubProcess;
  const dataDir = seededDataDir();
  const generationIds = new Map<string, string>();
  const twin = (...args: string[]) => runLazuli(['twin', ...args, '--data-dir', dataDir]);
  const query = (...args: string[]) => runLazuli(['query', ...args, '--data-dir', dataDir]);

  before(async () => {
    hub = await startHubProcess(dataDir, [...EPHEMERAL, '--hostname', 'localhost']);
    for (const id of DEVICES) {
      const created = await runLazuli(['device', 'create', id, '--json', '--data-dir', dataDir]);
      assert.equal(created.code, 0, created.stderr);
      generationIds.set(id, (JSON.parse(created.stdout) as { generationId: string }).generationId);
    }
    await new HubRestClient(dataDir).call('PUT', '/devices/dev-3/modules/mod-a', { deviceId: 'dev-3', moduleId: 'mod-a' });
  });
  after(async () => {
    assert.equal(await hub.stop(), 0, hub.output());
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('show prints a new twin as indented JSON; --json prints it on one line', async () => {
    const shown = await twin('show', 'dev-1');
    assert.equal(shown.code, 0, shown.stderr);
    const parsed = JSON.parse(shown.stdout) as Twin;
    const desiredAt: string = parsed.properties.desired.$metadata.$lastUpdated;
    const reportedAt: string = parsed.properties.reported.$metadata.$lastUpdated;
    assert.match(desiredAt, ISO);
    assert.match(reportedAt, ISO);
    const expected = {
      deviceId: 'dev-1',
      etag: 'AAAAAAAAAAE=',
      deviceEtag: parsed.deviceEtag,
      status: 'enabled',
      statusReason: parsed.statusReason,
      statusUpdateTime: parsed.statusUpdateTime,
      connectionState: 'Disconnected',
      lastActivityTime: parsed.lastActivityTime,
      cloudToDeviceMessageCount: 0,
      authenticationType: 'sas',
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
      modelId: '',
      version: 1,
      tags: {},
      properties: {
        desired: { $metadata: { $lastUpdated: desiredAt }, $version: 1 },
        reported: { $metadata: { $lastUpdated: reportedAt }, $version: 1 },
      },
      capabilities: { iotEdge: false },
      deviceScope: parsed.deviceScope,
      parentScopes: parsed.parentScopes,
    };
    assert.equal(shown.stdout, JSON.stringify(expected, null, 2) + '\n');
    assert.equal(shown.stderr, '');

    const oneLine = await twin('show', 'dev-1', '--json');
    assert.equal(oneLine.code, 0, oneLine.stderr);
    assert.equal(oneLine.stdout.split('\n').length, 2, 'one line and its newline');
    const again = JSON.parse(oneLine.stdout) as Twin;
    // A twin never written has no stored timestamps: the hub stamps each read, so only those may differ.
    again.properties.desired.$metadata = parsed.properties.desired.$metadata;
    again.properties.reported.$metadata = parsed.properties.reported.$metadata;
    assert.deepEqual(again, parsed);
  });

  test('update-desired prints the new desired $version: 2, then 3; --json prints the whole twin', async () => {
    const first = await twin('update-desired', 'dev-1', '{"fan":{"speed":2},"mode":"eco"}');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'desired $version 2 (etag AAAAAAAAAAI=)\n');
    const second = await twin('update-desired', 'dev-1', '{"mode":null,"fan":{"on":true}}', '--etag', 'AAAAAAAAAAI=');
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'desired $version 3 (etag AAAAAAAAAAM=)\n');

    const shown = JSON.parse((await twin('show', 'dev-1', '--json')).stdout) as Twin;
    const { $metadata: _, ...desired } = shown.properties.desired as Twin;
    assert.deepEqual(desired, { fan: { speed: 2, on: true }, $version: 3 });

    const whole = await twin('update-desired', 'dev-1', '{"mode":"boost"}', '--etag', '"AAAAAAAAAAM="', '--json');
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(whole.stdout.split('\n').length, 2);
    const updated = JSON.parse(whole.stdout) as Twin;
    assert.equal(updated.deviceId, 'dev-1');
    assert.equal(updated.etag, 'AAAAAAAAAAQ=');
    assert.equal(updated.properties.desired.$version, 4);
    assert.equal(updated.properties.desired.mode, 'boost');
  });

  test('tags merges and prints the tags; a stale --etag exits 1 with PreconditionFailed and changes nothing', async () => {
    const tagged = await twin('tags', 'dev-2', '{"site":"lab","floor":3}');
    assert.equal(tagged.code, 0, tagged.stderr);
    assert.equal(tagged.stdout, '{\n  "site": "lab",\n  "floor": 3\n}\n');
    const merged = await twin('tags', 'dev-2', '{"floor":null,"owner":{"team":"ops"}}', '--etag', 'AAAAAAAAAAI=');
    assert.equal(merged.code, 0, merged.stderr);
    assert.equal(merged.stdout, '{\n  "site": "lab",\n  "owner": {\n    "team": "ops"\n  }\n}\n');

    const stale = await twin('tags', 'dev-2', '{"site":"home"}', '--etag', 'AAAAAAAAAAI=');
    assert.equal(stale.code, 1);
    assert.equal(stale.stdout, '');
    assert.equal(stale.stderr, 'lazuli: PreconditionFailed (412): The twin has changed since the etag given in If-Match\n');
    const staleDesired = await twin('update-desired', 'dev-2', '{"x":1}', '--etag', 'AAAAAAAAAAE=');
    assert.equal(staleDesired.code, 1);
    assert.match(staleDesired.stderr, /^lazuli: PreconditionFailed \(412\)/);
    const shown = JSON.parse((await twin('show', 'dev-2', '--json')).stdout) as Twin;
    assert.deepEqual(shown.tags, { site: 'lab', owner: { team: 'ops' } });
    assert.equal(shown.version, 3);
  });

  test('--module reads and patches a module twin', async () => {
    const shown = await twin('show', 'dev-3', '--module', 'mod-a', '--json');
    assert.equal(shown.code, 0, shown.stderr);
    const parsed = JSON.parse(shown.stdout) as Twin;
    assert.equal(parsed.deviceId, 'dev-3');
    assert.equal(parsed.moduleId, 'mod-a');
    assert.equal(parsed.version, 1);

    const updated = await twin('update-desired', 'dev-3', '--module', 'mod-a', '{"interval":30}');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(updated.stdout, 'desired $version 2 (etag AAAAAAAAAAI=)\n');
    const tagged = await twin('tags', 'dev-3', '--module', 'mod-a', '{"role":"sensor"}');
    assert.equal(tagged.stdout, '{\n  "role": "sensor"\n}\n');
    const device = JSON.parse((await twin('show', 'dev-3', '--json')).stdout) as Twin;
    assert.equal(device.version, 1, 'the device twin is not the module twin');
    assert.deepEqual(device.tags, {});
  });

  test('an unknown device or module exits 1 with Azure\'s error code and message', async () => {
    for (const args of [['show', 'nobody'], ['update-desired', 'nobody', '{"a":1}'], ['tags', 'nobody', '{"a":1}']]) {
      const r = await twin(...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'lazuli: DeviceNotFound (404): Device nobody is not registered\n');
    }
    const module = await twin('show', 'dev-3', '--module', 'no-such');
    assert.equal(module.code, 1);
    assert.equal(module.stderr, 'lazuli: ModuleNotFound (404): Module no-such is not registered on device dev-3\n');
  });

  test('query --page-size 2 follows the continuation over 5 devices: a JSON line each', async () => {
    const r = await query('SELECT deviceId FROM devices', '--page-size', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, DEVICES.map((id) => `{"deviceId":"${id}"}\n`).join(''));

    const twins = await query('SELECT * FROM devices', '--page-size', '2');
    assert.equal(twins.code, 0, twins.stderr);
    const lines = twins.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as Twin).deviceId), DEVICES);
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as Twin).deviceEtag !== undefined), DEVICES.map(() => true));

    const one = await query('SELECT deviceId, tags.owner.team AS team FROM devices WHERE tags.site = \'lab\'', '--page-size', '1');
    assert.equal(one.stdout, '{"deviceId":"dev-2","team":"ops"}\n');
    const modules = await query('SELECT * FROM devices.modules', '--json');
    assert.equal(modules.code, 0, modules.stderr);
    assert.deepEqual((JSON.parse(modules.stdout) as Twin[]).map((m) => [m.deviceId, m.moduleId, m.tags]), [['dev-3', 'mod-a', { role: 'sensor' }]]);
    const counted = await query('SELECT COUNT() AS n FROM devices', '--json');
    assert.equal(counted.stdout, '[{"n":5}]\n');
    const none = await query("SELECT * FROM devices WHERE deviceId = 'nobody'");
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
  });

  test('a query syntax error exits 1 with the line and column; a page size the hub refuses, with its message', async () => {
    const r = await query('SELECT * FROM devices WHERE tags.site = ');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^lazuli: ArgumentInvalid \(400\): Syntax error at line 1, column 41 near end of query: .+\n$/);
    const multiline = await query('SELECT *\nFROM devices\nWHERE ==');
    assert.match(multiline.stderr, /^lazuli: ArgumentInvalid \(400\): Syntax error at line 3, column 7 /);
    const big = await query('SELECT * FROM devices', '--page-size', '5000');
    assert.equal(big.code, 1);
    assert.equal(big.stderr, 'lazuli: ArgumentInvalid (400): x-ms-max-item-count must be a whole number from 1 to 1000\n');
  });

  test('usage mistakes exit 2, name what is wrong and send nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['twin', 'update-desired', 'dev-4', '{nope'], /the desired properties must be a JSON object such as '\{"name":"value"\}': .*JSON/],
      [['twin', 'tags', 'dev-4', '[1,2]'], /the tags must be a JSON object such as '\{"name":"value"\}', not \[1,2\]/],
      [['twin', 'tags', 'dev-4', 'null'], /the tags must be a JSON object/],
      [['twin', 'update-desired', 'dev-4'], /lazuli twin update-desired needs a JSON object/],
      [['twin', 'show'], /lazuli twin show needs a device id/],
      [['twin', 'show', 'dev-4', 'extra'], /unexpected arguments: extra/],
      [['twin', 'show', 'dev-4', '--etag', 'x'], /--etag applies to update-desired and tags/],
      [['twin', 'tags', 'dev-4', '{"a":1}', '--etag', ''], /--etag needs an etag/],
      [['twin', 'frobnicate', 'dev-4'], /lazuli twin needs one of show, update-desired, tags/],
      [['twin', 'show', 'dev-4', '--colour'], /Unknown option '--colour'/],
      [['query'], /lazuli query needs the query as one quoted argument/],
      [['query', 'SELECT', '*'], /lazuli query needs the query as one quoted argument/],
      [['query', 'SELECT * FROM devices', '--page-size', '0'], /--page-size must be a positive whole number, not "0"/],
    ];
    for (const [args, message] of cases) {
      const r = await runLazuli([...args, '--data-dir', dataDir]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    const untouched = JSON.parse((await twin('show', 'dev-4', '--json')).stdout) as Twin;
    assert.equal(untouched.version, 1);
  });
});
