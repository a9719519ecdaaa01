import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import device from 'azure-iot-device';
import httpTransport from 'azure-iot-device-http';
import { feedbackRecordsOf, type C2dTarget, type FeedbackRecord } from '../../src/domain/c2d.js';
import type { MessageProperties, PropertyValue } from '../../src/domain/message.js';
import { createSasToken } from '../../src/domain/sas.js';
import { dotNetInvariantTime } from '../../src/protocols/http/device-c2d-routes.js';
import { rawRequest, type RawResponse } from '../support/https-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

let hub: TestHub;
const keys: Record<string, string> = {};
const DEVICES = ['c-empty', 'c-headers', 'c-plain', 'c-settle', 'c-reject', 'c-abandon', 'c-fifo', 'c-a', 'c-b', 'c-auth', 'c-mod', 'c-purge', 'c-count', 'c-sdk', 'c-spell'];
before(async () => {
  hub = await startTestHub();
  for (const id of DEVICES) keys[id] = (await hub.running.hub.registry.putDevice(id, {})).authentication.symmetricKey.primaryKey!;
  keys['c-mod/mod'] = (await hub.running.hub.registry.putModule('c-mod', 'mod', {})).authentication.symmetricKey.primaryKey!;
});
after(async () => hub.close());

const API = '?api-version=2021-04-12';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function token(target: C2dTarget, key?: string): string {
  const path = target.moduleId === undefined ? `devices/${target.deviceId}` : `devices/${target.deviceId}/modules/${target.moduleId}`;
  const keyBase64 = key ?? keys[target.moduleId === undefined ? target.deviceId : `${target.deviceId}/${target.moduleId}`]!;
  return createSasToken({ resource: `localhost/${path}`, keyBase64, expiry: Date.now() / 1000 + 600 });
}

function boundPath(target: C2dTarget, spelling = 'devicebound'): string {
  return target.moduleId === undefined ? `/devices/${target.deviceId}/messages/${spelling}` : `/devices/${target.deviceId}/modules/${target.moduleId}/messages/${spelling}`;
}

function send(target: C2dTarget, body: string | Buffer, properties: MessageProperties = {}, applicationProperties: Record<string, PropertyValue> = {}) {
  return hub.running.hub.c2d.send(target, { body: Buffer.from(body), properties, applicationProperties });
}

interface Delivery {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Name/value pairs as the server wrote them, name case kept. */
  raw: Array<[string, string]>;
  body: Buffer;
  lockToken: string;
}

/** GET devicebound; the raw headers and body bytes, which rawRequest does not keep. */
function receive(target: C2dTarget, options: { auth?: string; path?: string } = {}): Promise<Delivery> {
  const headers: Record<string, string> = options.auth === '' ? {} : { authorization: options.auth ?? token(target) };
  return new Promise((resolve, reject) => {
    const path = options.path ?? boundPath(target) + API;
    const req = request({ host: '127.0.0.1', servername: 'localhost', port: hub.port, ca: hub.ca, method: 'GET', path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw: Array<[string, string]> = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) raw.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        const etag = String(res.headers.etag ?? '');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body: Buffer.concat(chunks), lockToken: etag.slice(1, -1) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function receiveOne(target: C2dTarget): Promise<Delivery> {
  const d = await receive(target);
  assert.equal(d.status, 200, d.body.toString());
  return d;
}

type Settlement = 'complete' | 'reject' | 'abandon';
function settle(target: C2dTarget, action: Settlement, lockToken: string, options: { auth?: string; query?: string; headers?: Record<string, string>; spelling?: string } = {}): Promise<RawResponse> {
  const base = `${boundPath(target, options.spelling)}/${encodeURIComponent(lockToken)}`;
  const query = options.query ?? (action === 'reject' ? `${API}&reject` : API);
  const auth: Record<string, string> = options.auth === '' ? {} : { authorization: options.auth ?? token(target) };
  return rawRequest({
    port: hub.port,
    ca: hub.ca,
    method: action === 'abandon' ? 'POST' : 'DELETE',
    path: action === 'abandon' ? `${base}/abandon${query}` : `${base}${query}`,
    headers: { 'if-match': lockToken, ...auth, ...options.headers },
  });
}

function service(method: string, path: string, policy = 'iothubowner'): Promise<RawResponse> {
  return rawRequest({ port: hub.port, ca: hub.ca, method, path: path + API, headers: { authorization: hub.serviceToken(policy) } });
}

function assertAzureError(res: RawResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['iothub-errorcode'], code);
  assert.match(res.json().Message, new RegExp(`^ErrorCode:${code};`));
}

/** Feedback records read so far, by original message id: one batch may hold the records of several tests. */
const feedbackSeen = new Map<string, FeedbackRecord>();

/** Seals waiting feedback and reads batches until a record for the message id turns up. */
async function feedbackFor(messageId: string): Promise<FeedbackRecord> {
  const feedback = hub.running.hub.c2d.feedback;
  const deadline = Date.now() + 5000;
  while (!feedbackSeen.has(messageId) && Date.now() < deadline) {
    feedback.flush();
    const batch = await feedback.receive();
    if (batch) {
      await feedback.complete(batch.lockToken!);
      for (const record of feedbackRecordsOf(batch)) feedbackSeen.set(record.originalMessageId, record);
    } else await new Promise((r) => setTimeout(r, 20));
  }
  const record = feedbackSeen.get(messageId);
  if (!record) throw new Error(`no feedback for ${messageId}`);
  return record;
}

const count = (target: C2dTarget) => hub.running.hub.c2d.count(target);

describe('device HTTPS cloud-to-device', () => {
  test('enqueued times are written as .NET invariant M/d/yyyy h:mm:ss tt in UTC', () => {
    assert.equal(dotNetInvariantTime(new Date('2017-12-22T00:14:12Z')), '12/22/2017 12:14:12 AM');
    assert.equal(dotNetInvariantTime(new Date('2024-03-05T13:04:09Z')), '3/5/2024 1:04:09 PM');
    assert.equal(dotNetInvariantTime(new Date('2024-11-30T12:00:00Z')), '11/30/2024 12:00:00 PM');
  });

  test('an empty queue is 204 with no body', async () => {
    const res = await receive({ deviceId: 'c-empty' });
    assert.equal(res.status, 204);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers.etag, undefined);
  });

  test('a message comes with its body bytes and every header; abandoned, it comes again with deliverycount 1', async () => {
    const target = { deviceId: 'c-headers' };
    const body = Buffer.from([0, 1, 2, 255, 10]);
    const sent = await send(
      target,
      body,
      { messageId: 'm-1', correlationId: 'corr-1', userId: 'user-1', contentType: 'application/json', contentEncoding: 'utf-8', absoluteExpiryTime: Date.parse('2099-01-02T03:04:05Z') },
      { 'iothub-ack': 'full', TempAlert: 'hi&lo', Count: 5 },
    );
    const first = await receiveOne(target);
    assert.deepEqual(first.body, body);
    assert.match(String(first.headers.etag), /^"[0-9a-f-]{36}"$/, 'the lock token, double-quoted');
    assert.match(first.lockToken, UUID);
    const iothub = Object.fromEntries(first.raw.filter(([n]) => /^iothub-/i.test(n)));
    assert.deepEqual(iothub, {
      'iothub-messageid': 'm-1',
      'iothub-sequencenumber': '1',
      'iothub-to': '/devices/c-headers/messages/deviceBound',
      'iothub-expiry': '2099-01-02T03:04:05.000Z',
      'iothub-enqueuedtime': dotNetInvariantTime(new Date(sent.enqueuedTime)),
      'iothub-deliverycount': '0',
      'iothub-ack': 'full',
      'iothub-correlationid': 'corr-1',
      'iothub-userid': 'user-1',
      'iothub-contenttype': 'application/json',
      'iothub-contentencoding': 'utf-8',
      'iothub-app-TempAlert': 'hi&lo',
      'iothub-app-Count': '5',
    });
    assert.equal(first.headers['content-type'], 'application/json');
    assert.equal(first.headers['content-encoding'], 'utf-8');
    // An independent oracle for the .NET format: en-US with the comma dropped.
    const enUs = new Date(sent.enqueuedTime).toLocaleString('en-US', { timeZone: 'UTC' }).replace(',', '').replace('\u202f', ' ');
    assert.equal(first.headers['iothub-enqueuedtime'], enUs);

    assert.equal((await receive(target)).status, 204, 'the only message is locked');
    assert.equal((await settle(target, 'abandon', first.lockToken)).status, 204);

    const second = await receiveOne(target);
    assert.equal(second.headers['iothub-messageid'], 'm-1');
    assert.equal(second.headers['iothub-sequencenumber'], '1');
    assert.equal(second.headers['iothub-deliverycount'], '1');
    assert.notEqual(second.lockToken, first.lockToken, 'each delivery has its own lock');
    assert.deepEqual(second.body, body);
    const quoted = await settle(target, 'complete', second.lockToken, { headers: { 'if-match': `"${second.lockToken}"` } });
    assert.equal(quoted.status, 204, quoted.text);
    assert.equal(await count(target), 0);
  });

  test('a message without optional properties: empty system headers, ack none, octet-stream', async () => {
    const target = { deviceId: 'c-plain' };
    await send(target, 'plain');
    const d = await receiveOne(target);
    assert.equal(d.body.toString(), 'plain');
    const iothub = Object.fromEntries(d.raw.filter(([n]) => /^iothub-/i.test(n)));
    assert.deepEqual(Object.keys(iothub).sort(), [
      'iothub-ack', 'iothub-correlationid', 'iothub-deliverycount', 'iothub-enqueuedtime', 'iothub-expiry', 'iothub-messageid', 'iothub-sequencenumber', 'iothub-to', 'iothub-userid',
    ]);
    assert.equal(iothub['iothub-expiry'], '');
    assert.equal(iothub['iothub-messageid'], '');
    assert.equal(iothub['iothub-correlationid'], '');
    assert.equal(iothub['iothub-userid'], '');
    assert.equal(iothub['iothub-ack'], 'none');
    assert.equal(d.headers['content-type'], 'application/octet-stream');
    assert.equal(d.headers['content-encoding'], undefined);
    assert.equal((await settle(target, 'complete', d.lockToken)).status, 204);
  });

  test('complete removes the message; completing it again is 412 DeviceMessageLockLost', async () => {
    const target = { deviceId: 'c-settle' };
    await send(target, 'x', { messageId: 'done-1' }, { 'iothub-ack': 'positive' });
    const d = await receiveOne(target);
    assert.equal((await settle(target, 'complete', d.lockToken)).status, 204);
    assert.equal((await receive(target)).status, 204);
    assertAzureError(await settle(target, 'complete', d.lockToken), 412, 'DeviceMessageLockLost');
    assertAzureError(await settle(target, 'abandon', d.lockToken), 412, 'DeviceMessageLockLost');
    assertAzureError(await settle(target, 'complete', '00000000-0000-0000-0000-000000000000'), 412, 'DeviceMessageLockLost');
    assert.equal((await feedbackFor('done-1')).statusCode, 'Success');
  });

  test('reject removes the message, valueless or with a value, and it is rejected, not completed', async () => {
    const target = { deviceId: 'c-reject' };
    await send(target, 'a', { messageId: 'rej-1' }, { 'iothub-ack': 'full' });
    await send(target, 'b', { messageId: 'rej-2' }, { 'iothub-ack': 'full' });
    const a = await receiveOne(target);
    assert.equal((await settle(target, 'reject', a.lockToken)).status, 204);
    const b = await receiveOne(target);
    assert.equal(b.headers['iothub-messageid'], 'rej-2');
    assert.equal((await settle(target, 'reject', b.lockToken, { query: `${API}&reject=true` })).status, 204);
    assert.equal((await receive(target)).status, 204);
    assert.equal(await count(target), 0);
    assert.equal((await feedbackFor('rej-1')).statusCode, 'Rejected');
    assert.equal((await feedbackFor('rej-2')).statusCode, 'Rejected');
  });

  test('abandon takes any body type, or none, and offers the message again', async () => {
    const target = { deviceId: 'c-abandon' };
    await send(target, 'again', { messageId: 'ab-1' });
    const bodies: Array<Record<string, string>> = [{ 'content-length': '0' }, { 'content-type': 'text/plain', 'content-length': '0' }, { 'content-type': 'application/json', 'content-length': '0' }];
    for (const [i, headers] of bodies.entries()) {
      const d = await receiveOne(target);
      assert.equal(d.headers['iothub-deliverycount'], String(i));
      const res = await settle(target, 'abandon', d.lockToken, { headers });
      assert.equal(res.status, 204, res.text);
    }
    const last = await receiveOne(target);
    assert.equal(last.headers['iothub-messageid'], 'ab-1');
    assert.equal(last.headers['iothub-deliverycount'], '3');
    assert.equal((await settle(target, 'complete', last.lockToken)).status, 204);
  });

  test('three messages come in order, each GET locking the next while the earlier stay locked', async () => {
    const target = { deviceId: 'c-fifo' };
    for (const id of ['f-1', 'f-2', 'f-3']) await send(target, id, { messageId: id });
    const deliveries = [await receiveOne(target), await receiveOne(target), await receiveOne(target)];
    assert.deepEqual(deliveries.map((d) => d.headers['iothub-messageid']), ['f-1', 'f-2', 'f-3']);
    assert.deepEqual(deliveries.map((d) => d.headers['iothub-sequencenumber']), ['1', '2', '3']);
    assert.deepEqual(deliveries.map((d) => d.body.toString()), ['f-1', 'f-2', 'f-3']);
    assert.equal(new Set(deliveries.map((d) => d.lockToken)).size, 3);
    assert.equal((await receive(target)).status, 204, 'all three are locked');
    assert.equal(await count(target), 3, 'locked messages still count');
    for (const d of deliveries.reverse()) assert.equal((await settle(target, 'complete', d.lockToken)).status, 204);
    assert.equal(await count(target), 0);
  });

  test('a lock token of device A settles nothing on device B\'s path, and A\'s message is untouched', async () => {
    const a = { deviceId: 'c-a' };
    const b = { deviceId: 'c-b' };
    await send(a, 'for A', { messageId: 'a-1' });
    await send(b, 'for B', { messageId: 'b-1' });
    const held = await receiveOne(a);
    for (const action of ['complete', 'reject', 'abandon'] as const) {
      assertAzureError(await settle(b, action, held.lockToken), 412, 'DeviceMessageLockLost');
    }
    assert.equal(await count(a), 1);
    assert.equal((await receive(a)).status, 204, 'A\'s message is still locked by A');
    assert.equal((await receive(b, { auth: token(a) })).status, 401, 'A\'s token reads nothing of B');
    assert.equal((await settle(a, 'complete', held.lockToken, { auth: token(b) })).status, 401);
    assert.equal((await settle(a, 'complete', held.lockToken)).status, 204, 'A still holds the lock');
    assert.equal(await count(a), 0);
    const forB = await receiveOne(b);
    assert.equal(forB.headers['iothub-messageid'], 'b-1');
    assert.equal(forB.headers['iothub-deliverycount'], '0');
    assert.equal((await settle(b, 'complete', forB.lockToken)).status, 204);
  });

  test('no token or a wrong one is 401, and nothing is delivered or settled', async () => {
    const target = { deviceId: 'c-auth' };
    await send(target, 'secret');
    const forged = token(target, keys['c-empty']);
    for (const auth of ['', forged]) {
      const res = await receive(target, { auth });
      assert.equal(res.status, 401);
      assert.equal(res.headers['iothub-errorcode'], 'IotHubUnauthorizedAccess');
    }
    const d = await receiveOne(target);
    assert.equal(d.headers['iothub-deliverycount'], '0', 'the refused GETs locked nothing');
    for (const auth of ['', forged]) {
      for (const action of ['complete', 'reject', 'abandon'] as const) assert.equal((await settle(target, action, d.lockToken, { auth })).status, 401);
    }
    assert.equal(await count(target), 1);
    assert.equal((await settle(target, 'complete', d.lockToken)).status, 204);
  });

  test('a module has its own queue on the module path, deviceBound spelling too', async () => {
    const mod = { deviceId: 'c-mod', moduleId: 'mod' };
    await send(mod, 'for the module', { messageId: 'mod-1' }, { k: 'v' });
    assert.equal((await receive({ deviceId: 'c-mod' })).status, 204, 'the device queue is another');
    assert.equal((await receive(mod, { auth: token({ deviceId: 'c-mod' }) })).status, 401, 'the device token is not the module\'s');
    const d = await receive(mod, { path: boundPath(mod, 'deviceBound') + API });
    assert.equal(d.status, 200);
    assert.equal(d.body.toString(), 'for the module');
    assert.equal(d.headers['iothub-to'], '/devices/c-mod/modules/mod/messages/deviceBound');
    assert.equal(d.headers['iothub-app-k'], 'v');
    assert.equal((await settle(mod, 'abandon', d.lockToken, { spelling: 'deviceBound' })).status, 204);
    const again = await receiveOne(mod);
    assert.equal(again.headers['iothub-deliverycount'], '1');
    assert.equal((await settle(mod, 'complete', again.lockToken)).status, 204);
    assert.equal(await count(mod), 0);
  });

  test('C#\'s deviceBound spelling and extra query parameters are accepted', async () => {
    const target = { deviceId: 'c-spell' };
    await send(target, 'cs', { messageId: 'cs-1' });
    const d = await receive(target, { path: `${boundPath(target, 'deviceBound')}${API}&iothub-messagelocktimeout=60` });
    assert.equal(d.status, 200);
    assert.equal(d.headers['iothub-messageid'], 'cs-1');
    assert.equal((await settle(target, 'reject', d.lockToken, { spelling: 'deviceBound' })).status, 204);
    assert.equal(await count(target), 0);
  });

  test('purge over REST empties the queue, locked messages included, and says how many', async () => {
    const target = { deviceId: 'c-purge' };
    for (const id of ['p-1', 'p-2', 'p-3']) await send(target, id, { messageId: id });
    const locked = await receiveOne(target);
    const res = await service('DELETE', '/devices/c-purge/commands');
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), { totalMessagesPurged: 3, deviceId: 'c-purge', moduleId: null });
    assert.equal((await receive(target)).status, 204);
    assertAzureError(await settle(target, 'complete', locked.lockToken), 412, 'DeviceMessageLockLost');
    assert.deepEqual((await service('DELETE', '/devices/c-purge/commands')).json(), { totalMessagesPurged: 0, deviceId: 'c-purge', moduleId: null });

    const mod = { deviceId: 'c-mod', moduleId: 'mod' };
    await send(mod, 'm');
    await send({ deviceId: 'c-mod' }, 'd');
    const purgedModule = await service('DELETE', '/devices/c-mod/modules/mod/commands');
    assert.equal(purgedModule.status, 200, purgedModule.text);
    assert.deepEqual(purgedModule.json(), { totalMessagesPurged: 1, deviceId: 'c-mod', moduleId: 'mod' });
    assert.equal(await count({ deviceId: 'c-mod' }), 1, 'the device queue is not the module\'s');
    assert.deepEqual((await service('DELETE', '/devices/c-mod/commands')).json(), { totalMessagesPurged: 1, deviceId: 'c-mod', moduleId: null });
  });

  test('purge refusals: unknown device 404, unknown module 404, no ServiceConnect 401', async () => {
    assertAzureError(await service('DELETE', '/devices/no-such-device/commands'), 404, 'DeviceNotFound');
    assertAzureError(await service('DELETE', '/devices/c-mod/modules/nope/commands'), 404, 'ModuleNotFound');
    await send({ deviceId: 'c-purge' }, 'kept');
    assertAzureError(await service('DELETE', '/devices/c-purge/commands', 'registryReadWrite'), 401, 'IotHubUnauthorizedAccess');
    assert.equal(await count({ deviceId: 'c-purge' }), 1);
    const res = await service('DELETE', '/devices/c-purge/commands', 'service');
    assert.equal(res.json().totalMessagesPurged, 1);
  });

  test('the registry shows cloudToDeviceMessageCount as the number queued', async () => {
    const target = { deviceId: 'c-count' };
    const read = async () => (await service('GET', '/devices/c-count')).json().cloudToDeviceMessageCount;
    assert.equal(await read(), 0);
    await send(target, '1');
    await send(target, '2');
    assert.equal(await read(), 2);
    const d = await receiveOne(target);
    assert.equal(await read(), 2, 'a locked message is still queued');
    await settle(target, 'complete', d.lockToken);
    assert.equal(await read(), 1);
  });

  test('the Node SDK (azure-iot-device-http) receives, abandons and completes', async () => {
    const target = { deviceId: 'c-sdk' };
    await send(target, 'hello sdk', { messageId: 'sdk-1', absoluteExpiryTime: Date.parse('2099-01-02T03:04:05Z') }, { colour: 'blue' });
    const cs = `HostName=localhost;DeviceId=c-sdk;SharedAccessKey=${keys['c-sdk']}`;
    const client = device.Client.fromConnectionString(cs, httpTransport.Http);
    // The SDK derives the port from the host name (443); the agent's connection options take precedence.
    const agent = new Agent({ host: '127.0.0.1', port: hub.port, servername: 'localhost', ca: hub.ca });
    await client.setOptions({ http: { agent, receivePolicy: { interval: 0.1 } } } as never);
    try {
      const seen = await new Promise<device.Message[]>((resolve, reject) => {
        const messages: device.Message[] = [];
        client.on('error', reject);
        client.on('message', (m: device.Message) => {
          messages.push(m);
          const settled = (err?: Error) => (err ? reject(err) : messages.length === 2 && resolve(messages));
          if (messages.length === 1) client.abandon(m, settled);
          else client.complete(m, settled);
        });
      });
      const [first, second] = seen;
      assert.equal(first!.data.toString(), 'hello sdk');
      assert.equal(first!.messageId, 'sdk-1');
      assert.equal(first!.to, '/devices/c-sdk/messages/deviceBound');
      assert.equal(first!.expiryTimeUtc, '2099-01-02T03:04:05.000Z');
      assert.match(first!.lockToken, UUID);
      assert.deepEqual(first!.properties.propertyList, [{ key: 'iothub-app-colour', value: 'blue' }]);
      assert.equal(second!.messageId, 'sdk-1');
      assert.notEqual(second!.lockToken, first!.lockToken);
      assert.equal(await count(target), 0);
    } finally {
      await client.close();
      agent.destroy();
    }
  });
});
