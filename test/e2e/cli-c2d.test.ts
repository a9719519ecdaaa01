// `lazuli c2d send|feedback|purge` against a hub process, checked through the device side of the same hub (HTTPS).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createSasToken } from '../../src/domain/sas.js';
import { rawRequest, type RawResponse } from '../support/https-client.js';
import { type HubProcess, runLazuli, startHubProcess } from '../support/hub-process.js';
import { seededDataDir } from '../support/test-ca.js';

const EPHEMERAL = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--bind', '127.0.0.1'];
const API = '?api-version=2021-04-12';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Device {
  deviceId: string;
  generationId: string;
  authentication: { symmetricKey: { primaryKey: string } };
}

describe('lazuli c2d', () => {
  let hub: HubProcess;
  const dataDir = seededDataDir();
  const devices = new Map<string, Device>();
  const c2d = (...args: string[]) => runLazuli(['c2d', ...args, '--data-dir', dataDir]);

  before(async () => {
    hub = await startHubProcess(dataDir, [...EPHEMERAL, '--hostname', 'localhost', '--feedback-interval-seconds', '1']);
    for (const id of ['c2d-dev', 'c2d-purge']) {
      const created = await runLazuli(['device', 'create', id, '--json', '--data-dir', dataDir]);
      assert.equal(created.code, 0, created.stderr);
      devices.set(id, JSON.parse(created.stdout) as Device);
    }
  });
  after(async () => {
    assert.equal(await hub.stop(), 0, hub.output());
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The device's HTTPS C2D API, with its own SAS token. */
  function asDevice(id: string, method: string, path: string): Promise<RawResponse> {
    const key = devices.get(id)!.authentication.symmetricKey.primaryKey;
    const authorization = createSasToken({ resource: `localhost/devices/${id}`, keyBase64: key, expiry: Date.now() / 1000 + 600 });
    return rawRequest({ port: hub.settings.ports.https, ca: hub.ca, method, path: `/devices/${id}/messages/devicebound${path}${API}`, headers: { authorization } });
  }

  /** Takes the next message as the device and completes it: feedback Success, if asked for. */
  async function receiveAndComplete(id: string): Promise<RawResponse> {
    const message = await asDevice(id, 'GET', '');
    assert.equal(message.status, 200, message.text);
    const lockToken = String(message.headers.etag).slice(1, -1);
    assert.equal((await asDevice(id, 'DELETE', `/${encodeURIComponent(lockToken)}`)).status, 204);
    return message;
  }

  test('send queues the message with its properties and prints its id; feedback --json prints the Success record', async () => {
    const before = Date.now();
    const sent = await c2d('send', '--device', 'c2d-dev', '--ack', 'full', '--property', 'colour=blue', '--property', 'size=2', '--correlation-id', 'corr-7', '--content-type', 'application/json', '--expiry-seconds', '600', '{"on":true}');
    const after = Date.now();
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /^[0-9a-f-]{36}\n$/);
    const messageId = sent.stdout.trim();
    assert.match(messageId, UUID);

    const message = await receiveAndComplete('c2d-dev');
    assert.equal(message.text, '{"on":true}');
    assert.equal(message.headers['iothub-messageid'], messageId);
    assert.equal(message.headers['iothub-correlationid'], 'corr-7');
    assert.equal(message.headers['content-type'], 'application/json');
    assert.equal(message.headers['iothub-ack'], 'full');
    assert.equal(message.headers['iothub-to'], '/devices/c2d-dev/messages/deviceBound');
    assert.equal(message.headers['iothub-app-colour'], 'blue');
    assert.equal(message.headers['iothub-app-size'], '2');
    assert.deepEqual(Object.keys(message.headers).filter((h) => h.startsWith('iothub-app-')).sort(), ['iothub-app-colour', 'iothub-app-size']);
    const expiry = Date.parse(String(message.headers['iothub-expiry']));
    assert.ok(expiry >= before + 600_000 - 1000 && expiry <= after + 600_000, `expiry ${String(message.headers['iothub-expiry'])} is 600 s after the send`);
    assert.equal((await asDevice('c2d-dev', 'GET', '')).status, 204, 'the queue is empty once the device completed the message');

    const feedback = await c2d('feedback', '--json', '--count', '1');
    assert.equal(feedback.code, 0, feedback.stderr);
    const lines = feedback.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!) as Record<string, string>;
    assert.match(record.enqueuedTimeUtc!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(record, {
      originalMessageId: messageId,
      enqueuedTimeUtc: record.enqueuedTimeUtc,
      statusCode: 'Success',
      description: 'Success',
      deviceId: 'c2d-dev',
      deviceGenerationId: devices.get('c2d-dev')!.generationId,
    });
  });

  test('feedback prints a readable line; the feedback read before was accepted, so it is not offered again', async () => {
    const sent = await c2d('send', '--device', 'c2d-dev', '--ack', 'positive', '--message-id', 'second-message', 'hello');
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, 'second-message\n');
    const message = await receiveAndComplete('c2d-dev');
    assert.equal(message.text, 'hello');
    assert.equal(message.headers['iothub-correlationid'], '', 'no --correlation-id, none sent');

    const feedback = await c2d('feedback', '--count', '1');
    assert.equal(feedback.code, 0, feedback.stderr);
    assert.match(feedback.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z Success device=c2d-dev message=second-message\n$/);
  });

  test('a send to an unknown device exits 1 with Azure\'s error; to an unknown module, ModuleNotFound', async () => {
    const unknown = await c2d('send', '--device', 'nobody', 'x');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.equal(unknown.stderr, 'lazuli: the hub rejected the message: DeviceNotFound (404001, amqp:not-found): Device nobody is not registered\n');

    const module = await c2d('send', '--device', 'c2d-dev', '--module', 'no-such-module', 'x');
    assert.equal(module.code, 1);
    assert.match(module.stderr, /^lazuli: the hub rejected the message: ModuleNotFound \(404010, amqp:not-found\): .*no-such-module/);
  });

  test('purge after two sends prints 2, then 0', async () => {
    for (const body of ['one', 'two']) assert.equal((await c2d('send', '--device', 'c2d-purge', body)).code, 0);
    const purged = await c2d('purge', '--device', 'c2d-purge');
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal(purged.stdout, 'purged 2 message(s) from the queue of c2d-purge\n');
    assert.equal((await asDevice('c2d-purge', 'GET', '')).status, 204);
    const again = await c2d('purge', '--device', 'c2d-purge', '--json');
    assert.deepEqual(JSON.parse(again.stdout), { totalMessagesPurged: 0, deviceId: 'c2d-purge', moduleId: null });
    const unknown = await c2d('purge', '--device', 'nobody');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^lazuli: DeviceNotFound \(404\)/);
  });

  test('usage mistakes exit 2 and name what is wrong', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['send', 'body'], /lazuli c2d send needs --device ID/],
      [['purge'], /lazuli c2d purge needs --device ID/],
      [['send', '--device', 'c2d-dev'], /needs a BODY/],
      [['send', '--device', 'c2d-dev', '--ack', 'sometimes', 'x'], /--ack must be one of none, positive, negative, full/],
      [['send', '--device', 'c2d-dev', '--property', 'novalue', 'x'], /--property takes name=value/],
      [['feedback', '--count', '0'], /--count must be a positive whole number/],
      [['frobnicate'], /lazuli c2d needs one of send, feedback, purge/],
    ];
    for (const [args, message] of cases) {
      const r = await c2d(...args);
      assert.equal(r.code, 2, `c2d ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });
});
