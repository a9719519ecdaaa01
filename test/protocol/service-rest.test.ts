import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rawRequest, type RawResponse } from '../support/https-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

const API = '?api-version=2021-04-12';
function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return hub.call(method, path, body, headers);
}

/** Azure's error shape: status, header, JSON content type and the legacy Message the Node SDK parses. */
function assertAzureError(res: RawResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['iothub-errorcode'], code);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.match(body.Message, new RegExp(`^ErrorCode:${code};[^;]+$`));
  assert.match(body.ExceptionMessage, /^Tracking ID:[0-9a-f]{32}-G:0-TimeStamp:\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/);
}

describe('service REST API: bad input gets Azure errors and the hub keeps serving', () => {
  test('malformed JSON is 400 IotHubFormatError', async () => {
    assertAzureError(await call('PUT', '/devices/j1', '{"deviceId": '), 400, 'IotHubFormatError');
  });

  test('an oversized body is 413 MessageTooLarge', async () => {
    const huge = JSON.stringify({ deviceId: 'big', statusReason: 'x'.repeat(300 * 1024) });
    assertAzureError(await call('PUT', '/devices/big', huge), 413, 'MessageTooLarge');
  });

  test('a body that is not JSON is 415', async () => {
    const res = await call('PUT', '/devices/t1', 'deviceId=t1', { 'content-type': 'text/plain' });
    assert.equal(res.status, 415, res.text);
  });

  test('invalid ids are 400 ArgumentInvalid', async () => {
    assertAzureError(await call('PUT', `/devices/${'a'.repeat(129)}`, {}), 400, 'ArgumentInvalid');
    assertAzureError(await call('PUT', '/devices/bad%5Eid', {}), 400, 'ArgumentInvalid');
    assertAzureError(await call('PUT', '/devices/bad%20id', {}), 400, 'ArgumentInvalid');
  });

  test('a body that contradicts the path, or has a bad status, is 400', async () => {
    assertAzureError(await call('PUT', '/devices/p1', { deviceId: 'p2' }), 400, 'ArgumentInvalid');
    assertAzureError(await call('PUT', '/devices/p1', { status: 'sleeping' }), 400, 'ArgumentInvalid');
    assertAzureError(await call('PUT', '/devices/p1', []), 400, 'ArgumentInvalid');
  });

  test('keys that are not base64 of 16 to 64 bytes are refused and nothing is written', async () => {
    const cases = [
      { primaryKey: 'not base64!', secondaryKey: Buffer.alloc(32).toString('base64') },
      { primaryKey: Buffer.alloc(8).toString('base64'), secondaryKey: Buffer.alloc(32).toString('base64') },
      { primaryKey: Buffer.alloc(65).toString('base64'), secondaryKey: Buffer.alloc(32).toString('base64') },
      { primaryKey: Buffer.alloc(32).toString('base64'), secondaryKey: '' },
    ];
    for (const symmetricKey of cases) {
      assertAzureError(await call('PUT', '/devices/k1', { deviceId: 'k1', authentication: { type: 'sas', symmetricKey } }), 400, 'ArgumentInvalid');
    }
    assertAzureError(await call('GET', '/devices/k1'), 404, 'DeviceNotFound');
  });

  test('given keys are kept as given', async () => {
    const symmetricKey = { primaryKey: Buffer.alloc(16, 1).toString('base64'), secondaryKey: Buffer.alloc(64, 2).toString('base64') };
    const res = await call('PUT', '/devices/k2', { deviceId: 'k2', authentication: { type: 'sas', symmetricKey } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json().authentication.symmetricKey, symmetricKey);
  });

  test('selfSigned devices need valid thumbprints', async () => {
    assertAzureError(await call('PUT', '/devices/x1', { authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'zz' } } }), 400, 'ArgumentInvalid');
    const thumb = 'ab'.repeat(20);
    const res = await call('PUT', '/devices/x1', { authentication: { x509Thumbprint: { primaryThumbprint: thumb } } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().authentication.type, 'selfSigned');
    assert.equal(res.json().authentication.x509Thumbprint.primaryThumbprint, thumb.toUpperCase());
  });

  test('missing devices and modules are 404 with their own codes', async () => {
    assertAzureError(await call('GET', '/devices/ghost'), 404, 'DeviceNotFound');
    assertAzureError(await call('DELETE', '/devices/ghost'), 404, 'DeviceNotFound');
    assertAzureError(await call('PUT', '/devices/ghost/modules/m', {}), 404, 'DeviceNotFound');
    await call('PUT', '/devices/host1', {});
    assertAzureError(await call('GET', '/devices/host1/modules/m'), 404, 'ModuleNotFound');
  });

  test('etags: create-only without If-Match, 412 on a stale etag, * always matches', async () => {
    const created = await call('PUT', '/devices/e1', {});
    assert.equal(created.status, 200);
    const etag = created.json().etag as string;
    assert.equal(created.headers.etag, `"${etag}"`);
    assertAzureError(await call('PUT', '/devices/e1', {}), 409, 'DeviceAlreadyExists');
    const updated = await call('PUT', '/devices/e1', { status: 'disabled' }, { 'if-match': `"${etag}"` });
    assert.equal(updated.status, 200);
    assertAzureError(await call('PUT', '/devices/e1', { status: 'enabled' }, { 'if-match': `"${etag}"` }), 412, 'PreconditionFailed');
    assertAzureError(await call('PUT', '/devices/e1', {}, { 'if-match': 'garbage' }), 412, 'PreconditionFailed');
    assertAzureError(await call('DELETE', '/devices/e1', undefined, { 'if-match': `"${etag}"` }), 412, 'PreconditionFailed');
    assert.equal((await call('PUT', '/devices/e1', {}, { 'if-match': '"*"' })).status, 200);
    assert.equal((await call('DELETE', '/devices/e1', undefined, { 'if-match': '*' })).status, 204);
  });

  test('list pages with top and x-ms-continuation until the last page, which has none', async () => {
    for (const id of ['pg-1', 'pg-2', 'pg-3', 'pg-4', 'pg-5']) assert.equal((await call('PUT', `/devices/${id}`, {})).status, 200);
    const seen: string[] = [];
    let continuation: string | undefined;
    let pages = 0;
    do {
      const res = await rawRequest({
        port: hub.port,
        ca: hub.ca,
        method: 'GET',
        path: `/devices${API}&top=2`,
        headers: { authorization: hub.serviceToken(), ...(continuation ? { 'x-ms-continuation': continuation } : {}) },
      });
      assert.equal(res.status, 200);
      const page = res.json() as Array<{ deviceId: string }>;
      assert.ok(page.length <= 2);
      seen.push(...page.map((d) => d.deviceId));
      continuation = res.headers['x-ms-continuation'] as string | undefined;
      pages++;
    } while (continuation && pages < 50);
    for (const id of ['pg-1', 'pg-2', 'pg-3', 'pg-4', 'pg-5']) assert.ok(seen.includes(id), id);
    assert.deepEqual([...seen].sort(), seen, 'ascending order');
    assert.equal(new Set(seen).size, seen.length, 'no device twice');
    assertAzureError(await call('GET', '/devices', undefined, { 'x-ms-continuation': '!!' }), 400, 'ArgumentInvalid');
    const top0 = await rawRequest({ port: hub.port, ca: hub.ca, method: 'GET', path: `/devices${API}&top=0`, headers: { authorization: hub.serviceToken() } });
    assertAzureError(top0, 400, 'ArgumentInvalid');
  });

  test('bulk: repeated ids are refused; one failing entry fails the whole request and writes nothing', async () => {
    assertAzureError(await call('POST', '/devices', [{ id: 'b1', importMode: 'create' }, { id: 'b1', importMode: 'create' }]), 400, 'DeviceDefinedMultipleTimes');
    await call('PUT', '/devices/b-exists', {});
    const res = await call('POST', '/devices', [
      { id: 'b-new', importMode: 'create' },
      { id: 'b-exists', importMode: 'create' },
      { id: 'b-ghost', importMode: 'Delete' },
    ]);
    assert.equal(res.status, 400);
    const result = res.json();
    assert.equal(result.isSuccessful, false);
    assert.deepEqual(result.errors.map((e: { deviceId: string; errorCode: string }) => [e.deviceId, e.errorCode]), [
      ['b-exists', 'DeviceAlreadyExists'],
      ['b-ghost', 'DeviceNotFound'],
    ]);
    assertAzureError(await call('GET', '/devices/b-new'), 404, 'DeviceNotFound');
    assertAzureError(await call('POST', '/devices', []), 400, 'ArgumentInvalid');
    const bad = await call('POST', '/devices', [{ id: 'b2', importMode: 'explode' }]);
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json().errors.map((e: { deviceId: string; errorCode: string }) => [e.deviceId, e.errorCode]), [['b2', 'ArgumentInvalid']]);
  });

  test('auth failures are 401 IotHubUnauthorizedAccess', async () => {
    const noAuth = await rawRequest({ port: hub.port, ca: hub.ca, method: 'GET', path: `/devices${API}` });
    assertAzureError(noAuth, 401, 'IotHubUnauthorizedAccess');
    assertAzureError(await call('GET', '/devices', undefined, { authorization: 'Bearer eyJ0eXAi' }), 401, 'IotHubUnauthorizedAccess');
    assertAzureError(await call('PUT', '/devices/r1', {}, { authorization: hub.serviceToken('registryRead') }), 401, 'IotHubUnauthorizedAccess');
    assertAzureError(await call('GET', '/devices', undefined, { authorization: hub.serviceToken('service') }), 401, 'IotHubUnauthorizedAccess');
  });

  test('a device token is refused on the service API', async () => {
    const created = (await call('PUT', '/devices/tok-dev', {})).json();
    const { createSasToken } = await import('../../src/domain/sas.js');
    const token = createSasToken({ resource: 'localhost/devices/tok-dev', keyBase64: created.authentication.symmetricKey.primaryKey, expiry: Date.now() / 1000 + 60 });
    assertAzureError(await call('GET', '/devices/tok-dev', undefined, { authorization: token }), 401, 'IotHubUnauthorizedAccess');
  });

  test('unknown endpoints are 404 in Azure form, and the hub still answers health', async () => {
    assertAzureError(await call('GET', '/nothing/here'), 404, 'NotFound');
    const health = await rawRequest({ port: hub.port, ca: hub.ca, method: 'GET', path: '/health' });
    assert.equal(health.status, 200);
  });
});
