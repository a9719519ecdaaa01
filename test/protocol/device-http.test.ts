import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeMessage } from '../../src/domain/message-codec.js';
import { partitionOf } from '../../src/domain/partitioning.js';
import { createSasToken } from '../../src/domain/sas.js';
import { rawRequest, type RawResponse } from '../support/https-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

let hub: TestHub;
const keys: Record<string, string> = {};
before(async () => {
  hub = await startTestHub();
  for (const id of ['h1', 'h2', 'hb', 'hm']) {
    keys[id] = (await hub.running.hub.registry.putDevice(id, {})).authentication.symmetricKey.primaryKey!;
  }
  await hub.running.hub.registry.putModule('hm', 'mod', {});
});
after(async () => hub.close());

const API = '?api-version=2021-04-12';
const deviceToken = (id: string, key = keys[id]!) => createSasToken({ resource: `localhost/devices/${id}`, keyBase64: key, expiry: Date.now() / 1000 + 600 });

function post(path: string, body: string | Buffer, headers: Record<string, string>): Promise<RawResponse> {
  return rawRequest({ port: hub.port, ca: hub.ca, method: 'POST', path: path + API, headers, body });
}

async function stored(deviceId: string) {
  const log = hub.running.telemetryLog;
  const events = await log.read(partitionOf(deviceId, log.partitionCount), 0, 1000);
  return events.map((e) => decodeMessage(e.payload)).filter((m) => m.annotations['iothub-connection-device-id'] === deviceId);
}

describe('device HTTPS telemetry', () => {
  test('one message: body bytes, iothub-app-* properties with their case, system headers, 204 once stored', async () => {
    const body = Buffer.from([0, 1, 2, 255, 10]);
    const res = await post('/devices/h1/messages/events', body, {
      authorization: deviceToken('h1'),
      'iothub-to': '/devices/h1/messages/events',
      'iothub-app-TempAlert': 'hi&lo',
      'iothub-messageid': 'mid-1',
      'iothub-correlationid': 'cid-1',
      'iothub-contenttype': 'application/octet-stream',
      'iothub-contentencoding': 'binary',
      'iothub-expiry': '2030-01-01T00:00:00.000Z',
      'dt-subject': 'thermostat1',
    });
    assert.equal(res.status, 204, res.text);
    const [m] = await stored('h1');
    assert.ok(m, 'stored before the 204');
    assert.deepEqual(m.body, body);
    assert.deepEqual(m.applicationProperties, { TempAlert: 'hi&lo' });
    assert.deepEqual(m.properties, { messageId: 'mid-1', correlationId: 'cid-1', contentType: 'application/octet-stream', contentEncoding: 'binary', absoluteExpiryTime: Date.parse('2030-01-01T00:00:00Z') });
    assert.equal(m.annotations['dt-subject'], 'thermostat1');
    assert.equal(m.annotations['iothub-connection-device-id'], 'h1');
    assert.equal(m.annotations['iothub-message-source'], 'Telemetry');
    assert.equal(m.annotations['iothub-connection-auth-method'], '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}');
    assert.equal(typeof m.annotations['iothub-enqueuedtime'], 'number');
  });

  test('a batch becomes one message per element, in order', async () => {
    const batch = JSON.stringify([
      { body: Buffer.from('one').toString('base64'), properties: { 'iothub-app-p': 'q', 'iothub-messageid': 'b-1' } },
      { body: Buffer.from('two').toString('base64') },
      { body: 'three', base64Encoded: false },
    ]);
    const res = await post('/devices/hb/messages/events', batch, { authorization: deviceToken('hb'), 'content-type': 'application/vnd.microsoft.iothub.json' });
    assert.equal(res.status, 204, res.text);
    const messages = await stored('hb');
    assert.deepEqual(messages.map((m) => m.body.toString()), ['one', 'two', 'three']);
    assert.deepEqual(messages[0]!.applicationProperties, { p: 'q' });
    assert.equal(messages[0]!.properties.messageId, 'b-1');
  });

  test('a module sends as itself', async () => {
    const mod = await hub.running.hub.registry.getModule('hm', 'mod');
    const token = createSasToken({ resource: 'localhost/devices/hm/modules/mod', keyBase64: mod.authentication.symmetricKey.primaryKey!, expiry: Date.now() / 1000 + 600 });
    assert.equal((await post('/devices/hm/modules/mod/messages/events', 'm', { authorization: token })).status, 204);
    const [m] = await stored('hm');
    assert.equal(m!.annotations['iothub-connection-module-id'], 'mod');
    assert.equal(m!.annotations['iothub-connection-auth-method'], '{"scope":"module","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}');
  });

  test('refusals: no token, another device\'s token, a disabled device, oversized, malformed batch', async () => {
    const noToken = await post('/devices/h2/messages/events', 'x', {});
    assert.equal(noToken.status, 401);
    assert.equal(noToken.headers['iothub-errorcode'], 'IotHubUnauthorizedAccess');
    assert.equal((await post('/devices/h2/messages/events', 'x', { authorization: deviceToken('h1') })).status, 401);
    assert.equal((await post('/devices/h2/messages/events', 'x', { authorization: deviceToken('h2', keys.h1) })).status, 401);
    const big = await post('/devices/h2/messages/events', Buffer.alloc(256 * 1024 + 1), { authorization: deviceToken('h2') });
    assert.equal(big.status, 413);
    assert.equal(big.headers['iothub-errorcode'], 'MessageTooLarge');
    const junk = await post('/devices/h2/messages/events', '[{"body": 5}]', { authorization: deviceToken('h2'), 'content-type': 'application/vnd.microsoft.iothub.json' });
    assert.equal(junk.status, 400);
    const notJson = await post('/devices/h2/messages/events', '[{', { authorization: deviceToken('h2'), 'content-type': 'application/vnd.microsoft.iothub.json' });
    assert.equal(notJson.headers['iothub-errorcode'], 'IotHubFormatError');
    assert.deepEqual(await stored('h2'), [], 'nothing refused was stored');

    await hub.running.hub.registry.putDevice('h2', { status: 'disabled' }, '*');
    const disabled = await post('/devices/h2/messages/events', 'x', { authorization: deviceToken('h2') });
    assert.equal(disabled.status, 403);
    assert.equal(disabled.headers['iothub-errorcode'], 'DeviceDisabled');
  });
});
