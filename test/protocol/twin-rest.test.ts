// The service twin API over HTTPS with a raw client: GET/PATCH/PUT of device and module twins, etags, limits,
// errors, the twin's life with its device, and POST /devices/query with its paging headers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSasToken } from '../../src/domain/sas.js';
import { rawRequest, type RawResponse } from '../support/https-client.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

const API = '?api-version=2021-04-12';
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return hub.call(method, path, body, headers);
}

function assertAzureError(res: RawResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['iothub-errorcode'], code);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.match(body.Message, new RegExp(`^ErrorCode:${code};[^;]+$`));
  if (message) assert.match(body.Message, message);
}

async function ok(res: RawResponse | Promise<RawResponse>, status = 200): Promise<any> {
  const r = await res;
  assert.equal(r.status, status, r.text);
  return r.text === '' ? undefined : r.json();
}

async function createDevice(id: string): Promise<any> {
  return ok(call('PUT', `/devices/${encodeURIComponent(id)}`, { deviceId: id }));
}

const twinPath = (id: string, moduleId?: string) => `/twins/${encodeURIComponent(id)}${moduleId === undefined ? '' : `/modules/${encodeURIComponent(moduleId)}`}`;

describe('service REST twins', () => {
  test("a new device's twin: the exact shape, etag AAAAAAAAAAE=, version 1, empty sections at $version 1", async () => {
    const device = await createDevice('tw-new');
    const res = await call('GET', twinPath('tw-new'));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.etag, '"AAAAAAAAAAE="');
    assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8/);
    const twin = res.json();
    const desiredStamp = twin.properties.desired.$metadata.$lastUpdated;
    const reportedStamp = twin.properties.reported.$metadata.$lastUpdated;
    assert.match(desiredStamp, ISO_MS);
    assert.match(reportedStamp, ISO_MS);
    assert.deepEqual(twin, {
      deviceId: 'tw-new',
      etag: 'AAAAAAAAAAE=',
      deviceEtag: device.etag,
      status: 'enabled',
      ...(device.statusReason === undefined ? {} : { statusReason: device.statusReason }),
      statusUpdateTime: device.statusUpdatedTime,
      connectionState: 'Disconnected',
      lastActivityTime: '0001-01-01T00:00:00Z',
      cloudToDeviceMessageCount: 0,
      authenticationType: 'sas',
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
      modelId: '',
      version: 1,
      tags: {},
      properties: {
        desired: { $metadata: { $lastUpdated: desiredStamp }, $version: 1 },
        reported: { $metadata: { $lastUpdated: reportedStamp }, $version: 1 },
      },
      capabilities: { iotEdge: false },
      deviceScope: device.deviceScope,
      parentScopes: device.parentScopes,
    });
  });

  test('a module twin: moduleId, the module etag, no capabilities', async () => {
    await createDevice('tw-host');
    const mod = await ok(call('PUT', '/devices/tw-host/modules/tw-mod', { deviceId: 'tw-host', moduleId: 'tw-mod' }));
    const res = await call('GET', twinPath('tw-host', 'tw-mod'));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.etag, '"AAAAAAAAAAE="');
    const twin = res.json();
    assert.equal(twin.deviceId, 'tw-host');
    assert.equal(twin.moduleId, 'tw-mod');
    assert.equal(twin.deviceEtag, mod.etag);
    assert.equal(twin.etag, 'AAAAAAAAAAE=');
    assert.equal(twin.version, 1);
    assert.equal(twin.authenticationType, 'sas');
    assert.deepEqual(twin.tags, {});
    assert.equal(twin.properties.desired.$version, 1);
    assert.equal(twin.properties.reported.$version, 1);
    for (const absent of ['capabilities', 'deviceScope', 'parentScopes']) assert.equal(absent in twin, false, absent);
    // The module's twin is its own: the device's stays untouched.
    await ok(call('PATCH', twinPath('tw-host', 'tw-mod'), { tags: { m: 1 } }));
    assert.deepEqual((await ok(call('GET', twinPath('tw-host')))).tags, {});
    assert.deepEqual((await ok(call('GET', twinPath('tw-host', 'tw-mod')))).tags, { m: 1 });
  });

  test('PATCH merges tags and desired, answers the full twin with a quoted ETag, version 2, desired $version 2', async () => {
    await createDevice('tw-patch');
    const res = await call('PATCH', twinPath('tw-patch'), { tags: { site: { building: 'B1', floor: 2 } }, properties: { desired: { interval: 30, mode: { eco: true } } } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.etag, '"AAAAAAAAAAI="');
    const twin = res.json();
    assert.equal(twin.etag, 'AAAAAAAAAAI=');
    assert.equal(twin.version, 2);
    assert.equal(twin.deviceId, 'tw-patch');
    assert.deepEqual(twin.tags, { site: { building: 'B1', floor: 2 } });
    const { $metadata, ...desired } = twin.properties.desired;
    assert.deepEqual(desired, { interval: 30, mode: { eco: true }, $version: 2 });
    const at = $metadata.$lastUpdated;
    assert.match(at, ISO_MS);
    assert.deepEqual($metadata, {
      $lastUpdated: at,
      $lastUpdatedVersion: 2,
      interval: { $lastUpdated: at, $lastUpdatedVersion: 2 },
      mode: { $lastUpdated: at, $lastUpdatedVersion: 2, eco: { $lastUpdated: at, $lastUpdatedVersion: 2 } },
    });
    assert.equal(twin.properties.reported.$version, 1);

    // A second merge: null deletes, siblings stay, the read-only $metadata/$version an SDK echoes back are ignored.
    const again = await ok(
      call('PATCH', twinPath('tw-patch'), { tags: { site: { floor: null } }, properties: { desired: { interval: null, extra: 'x', $version: 99, $metadata: { junk: 1 } } } }),
    );
    assert.equal(again.version, 3);
    assert.deepEqual(again.tags, { site: { building: 'B1' } });
    const { $metadata: m3, ...desired3 } = again.properties.desired;
    assert.deepEqual(desired3, { mode: { eco: true }, extra: 'x', $version: 3 });
    assert.equal('interval' in m3, false);
    assert.deepEqual(m3.mode, $metadata.mode, 'untouched keys keep their stamps');

    // Tags alone change the twin version, not the desired $version.
    const tagsOnly = await ok(call('PATCH', twinPath('tw-patch'), { tags: { t: 1 } }));
    assert.equal(tagsOnly.version, 4);
    assert.equal(tagsOnly.properties.desired.$version, 3);
    assert.deepEqual(await ok(call('GET', twinPath('tw-patch'))), tagsOnly);
  });

  test('If-Match: a stale etag is 412, * and the current etag (quoted or not) are fine, garbage is 412', async () => {
    await createDevice('tw-etag');
    const first = await ok(call('PATCH', twinPath('tw-etag'), { tags: { a: 1 } }, { 'if-match': '"AAAAAAAAAAE="' }));
    assert.equal(first.etag, 'AAAAAAAAAAI=');
    assertAzureError(await call('PATCH', twinPath('tw-etag'), { tags: { a: 2 } }, { 'if-match': '"AAAAAAAAAAE="' }), 412, 'PreconditionFailed');
    assertAzureError(await call('PUT', twinPath('tw-etag'), { tags: { a: 2 } }, { 'if-match': '"AAAAAAAAAAE="' }), 412, 'PreconditionFailed');
    assertAzureError(await call('PATCH', twinPath('tw-etag'), { tags: { a: 2 } }, { 'if-match': '"AAAAAAAAAAM="' }), 412, 'PreconditionFailed');
    for (const garbage of ['"garbage"', 'MA==', '"AAAAAAAAAAE"', '""']) {
      assertAzureError(await call('PATCH', twinPath('tw-etag'), { tags: { a: 2 } }, { 'if-match': garbage }), 412, 'PreconditionFailed');
    }
    assert.deepEqual((await ok(call('GET', twinPath('tw-etag')))).tags, { a: 1 }, 'nothing was written by a refused request');
    assert.equal((await ok(call('PATCH', twinPath('tw-etag'), { tags: { a: 3 } }, { 'if-match': '"*"' }))).etag, 'AAAAAAAAAAM=');
    assert.equal((await ok(call('PATCH', twinPath('tw-etag'), { tags: { a: 4 } }, { 'if-match': '*' }))).etag, 'AAAAAAAAAAQ=');
    assert.equal((await ok(call('PATCH', twinPath('tw-etag'), { tags: { a: 5 } }, { 'if-match': 'AAAAAAAAAAQ=' }))).etag, 'AAAAAAAAAAU=');
    assert.equal((await ok(call('PATCH', twinPath('tw-etag'), { tags: { a: 6 } }))).etag, 'AAAAAAAAAAY=', 'no If-Match: unconditional');
  });

  test('the service may not write reported properties, nor send a body that is not an object', async () => {
    await createDevice('tw-reported');
    assertAzureError(await call('PATCH', twinPath('tw-reported'), { properties: { reported: { fw: '1' } } }), 400, 'ArgumentInvalid');
    assertAzureError(await call('PATCH', twinPath('tw-reported'), { properties: { desired: { a: 1 }, reported: { fw: '1' } } }), 400, 'ArgumentInvalid');
    assertAzureError(await call('PUT', twinPath('tw-reported'), { properties: { reported: { fw: '1' } } }), 400, 'ArgumentInvalid');
    assertAzureError(await call('PATCH', twinPath('tw-reported'), [{ tags: {} }]), 400, 'ArgumentInvalid');
    assertAzureError(await call('PATCH', twinPath('tw-reported'), { properties: 'x' }), 400, 'ArgumentInvalid');
    assertAzureError(await call('PATCH', twinPath('tw-reported'), { properties: { desired: [1] } }), 400, 'ArgumentInvalid');
    const twin = await ok(call('GET', twinPath('tw-reported')));
    assert.equal(twin.version, 1);
    assert.deepEqual(twin.properties.reported, { $metadata: twin.properties.reported.$metadata, $version: 1 });
  });

  test('PUT replaces tags and desired wholesale: dropped keys are gone, desired $version + 1', async () => {
    await createDevice('tw-put');
    await ok(call('PATCH', twinPath('tw-put'), { tags: { old: 1, keep: { x: 1 } }, properties: { desired: { a: 1, b: { c: 2 } } } }));
    const res = await call('PUT', twinPath('tw-put'), { tags: { keep: { y: 2 } }, properties: { desired: { b: { d: 3 } } } }, { 'if-match': '"AAAAAAAAAAI="' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.etag, '"AAAAAAAAAAM="');
    const twin = res.json();
    assert.equal(twin.version, 3);
    assert.deepEqual(twin.tags, { keep: { y: 2 } });
    const { $metadata, ...desired } = twin.properties.desired;
    assert.deepEqual(desired, { b: { d: 3 }, $version: 3 });
    const at = $metadata.$lastUpdated;
    assert.deepEqual($metadata, { $lastUpdated: at, $lastUpdatedVersion: 3, b: { $lastUpdated: at, $lastUpdatedVersion: 3, d: { $lastUpdated: at, $lastUpdatedVersion: 3 } } });

    // Without tags or desired, PUT empties both.
    const emptied = await ok(call('PUT', twinPath('tw-put'), {}));
    assert.deepEqual(emptied.tags, {});
    assert.deepEqual(Object.keys(emptied.properties.desired).sort(), ['$metadata', '$version']);
    assert.equal(emptied.properties.desired.$version, 4);
  });

  test('limits are 400 ArgumentInvalid and write nothing: desired > 32 KB, tags > 8 KB, depth 11, bad keys, long strings', async () => {
    await createDevice('tw-limits');
    const big = (n: number, size: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'x'.repeat(size)]));
    const nested = (levels: number) => {
      let inner: Record<string, unknown> = { leaf: 1 };
      for (let i = levels; i >= 1; i--) inner = { [`l${i}`]: inner };
      return inner;
    };
    const cases: Array<[string, unknown]> = [
      ['desired > 32 KB', { properties: { desired: big(9, 4000) } }],
      ['tags > 8 KB', { tags: big(3, 3000) }],
      ['desired depth 11', { properties: { desired: nested(11) } }],
      ['tags depth 11', { tags: nested(11) }],
      ['a key with a dot', { tags: { 'a.b': 1 } }],
      ['a key with $', { properties: { desired: { nested: { $x: 1 } } } }],
      ['a key with a space', { tags: { 'a b': 1 } }],
      ['a string > 4 KB', { properties: { desired: { s: 'x'.repeat(4097) } } }],
      ['an integer out of range', { tags: { n: 4503599627370496 } }],
    ];
    for (const [what, body] of cases) {
      const res = await call('PATCH', twinPath('tw-limits'), body);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assertAzureError(res, 400, 'ArgumentInvalid');
    }
    // Just within: Azure's valid depth-10 example and sections just under their limits.
    await ok(call('PATCH', twinPath('tw-limits'), { tags: nested(10), properties: { desired: nested(10) } }));
    await ok(call('PUT', twinPath('tw-limits'), { tags: big(2, 3000), properties: { desired: big(7, 4000) } }));
    // The limit is on the merged section, not the patch.
    assertAzureError(await call('PATCH', twinPath('tw-limits'), { properties: { desired: big(9, 4000) } }), 400, 'ArgumentInvalid', /32768 bytes/);
    assertAzureError(await call('PATCH', twinPath('tw-limits'), { tags: { more: 'y'.repeat(2500) } }), 400, 'ArgumentInvalid', /8192 bytes/);
    const twin = await ok(call('GET', twinPath('tw-limits')));
    assert.equal(twin.version, 3, 'only the two accepted writes counted');
  });

  test('unknown device 404 DeviceNotFound, unknown module 404 ModuleNotFound, for every verb', async () => {
    await createDevice('tw-known');
    for (const method of ['GET', 'PATCH', 'PUT']) {
      const body = method === 'GET' ? undefined : { tags: { a: 1 } };
      assertAzureError(await call(method, twinPath('tw-ghost'), body), 404, 'DeviceNotFound');
      assertAzureError(await call(method, twinPath('tw-ghost', 'm'), body), 404, 'DeviceNotFound');
      assertAzureError(await call(method, twinPath('tw-known', 'ghost-mod'), body), 404, 'ModuleNotFound');
    }
  });

  test('a device token, a missing token and a registryRead token are 401', async () => {
    const device = await createDevice('tw-tok');
    const token = createSasToken({ resource: 'localhost/devices/tw-tok', keyBase64: device.authentication.symmetricKey.primaryKey, expiry: Date.now() / 1000 + 60 });
    assertAzureError(await call('GET', twinPath('tw-tok'), undefined, { authorization: token }), 401, 'IotHubUnauthorizedAccess');
    assertAzureError(await call('PATCH', twinPath('tw-tok'), { tags: { a: 1 } }, { authorization: token }), 401, 'IotHubUnauthorizedAccess');
    assertAzureError(await rawRequest({ port: hub.port, ca: hub.ca, method: 'GET', path: twinPath('tw-tok') + API }), 401, 'IotHubUnauthorizedAccess');
    assertAzureError(await call('PATCH', twinPath('tw-tok'), { tags: { a: 1 } }, { authorization: hub.serviceToken('registryRead') }), 401, 'IotHubUnauthorizedAccess');
    assert.equal((await ok(call('GET', twinPath('tw-tok'), undefined, { authorization: hub.serviceToken('service') }))).version, 1);
  });

  test('deleting a device deletes its twin and its module twins: the same ids come back fresh', async () => {
    await createDevice('tw-del');
    await ok(call('PUT', '/devices/tw-del/modules/m1', { deviceId: 'tw-del', moduleId: 'm1' }));
    await ok(call('PATCH', twinPath('tw-del'), { tags: { a: 1 }, properties: { desired: { d: 1 } } }));
    await ok(call('PATCH', twinPath('tw-del', 'm1'), { tags: { b: 1 } }));
    await ok(call('DELETE', '/devices/tw-del', undefined, { 'if-match': '*' }), 204);
    assertAzureError(await call('GET', twinPath('tw-del')), 404, 'DeviceNotFound');

    await createDevice('tw-del');
    await ok(call('PUT', '/devices/tw-del/modules/m1', { deviceId: 'tw-del', moduleId: 'm1' }));
    const twin = await ok(call('GET', twinPath('tw-del')));
    assert.equal(twin.etag, 'AAAAAAAAAAE=');
    assert.equal(twin.version, 1);
    assert.deepEqual(twin.tags, {});
    assert.equal(twin.properties.desired.$version, 1);
    assert.equal('d' in twin.properties.desired, false);
    const moduleTwin = await ok(call('GET', twinPath('tw-del', 'm1')));
    assert.equal(moduleTwin.version, 1);
    assert.deepEqual(moduleTwin.tags, {});
  });

  test('deleting a module deletes its twin', async () => {
    await createDevice('tw-delmod');
    await ok(call('PUT', '/devices/tw-delmod/modules/m1', { deviceId: 'tw-delmod', moduleId: 'm1' }));
    await ok(call('PATCH', twinPath('tw-delmod', 'm1'), { tags: { b: 1 } }));
    await ok(call('DELETE', '/devices/tw-delmod/modules/m1', undefined, { 'if-match': '*' }), 204);
    assertAzureError(await call('GET', twinPath('tw-delmod', 'm1')), 404, 'ModuleNotFound');
    await ok(call('PUT', '/devices/tw-delmod/modules/m1', { deviceId: 'tw-delmod', moduleId: 'm1' }));
    const moduleTwin = await ok(call('GET', twinPath('tw-delmod', 'm1')));
    assert.equal(moduleTwin.version, 1);
    assert.deepEqual(moduleTwin.tags, {});
  });
});

describe('service REST query: POST /devices/query', () => {
  const ids = ['q-1', 'q-2', 'q-3', 'q-4', 'q-5'];
  before(async () => {
    for (const [i, id] of ids.entries()) {
      await createDevice(id);
      await ok(call('PATCH', twinPath(id), { tags: { suite: 'query', n: i + 1, even: (i + 1) % 2 === 0 } }));
    }
  });

  function query(text: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    return call('POST', '/devices/query', { query: text }, headers);
  }

  test('SELECT * answers twins with x-ms-item-type twin, and no continuation when all fit', async () => {
    const res = await query("SELECT * FROM devices WHERE tags.suite = 'query' AND tags.even = true");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-ms-item-type'], 'twin');
    assert.equal(res.headers['x-ms-continuation'], undefined);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const items = res.json();
    assert.deepEqual(items.map((t: { deviceId: string }) => t.deviceId), ['q-2', 'q-4']);
    const direct = await ok(call('GET', twinPath('q-2')));
    assert.deepEqual(items[0], direct, 'a query item is the twin as GET /twins shows it');
  });

  test('projections and aggregates are raw', async () => {
    const projected = await query("SELECT deviceId, tags.n FROM devices WHERE tags.suite = 'query' AND tags.n <= 2");
    assert.equal(projected.status, 200, projected.text);
    assert.equal(projected.headers['x-ms-item-type'], 'raw');
    assert.deepEqual(projected.json(), [
      { deviceId: 'q-1', n: 1 },
      { deviceId: 'q-2', n: 2 },
    ]);
    const counted = await query("SELECT COUNT() AS total FROM devices WHERE tags.suite = 'query'");
    assert.equal(counted.status, 200, counted.text);
    assert.equal(counted.headers['x-ms-item-type'], 'raw');
    assert.equal(counted.headers['x-ms-continuation'], undefined);
    assert.deepEqual(counted.json(), [{ total: 5 }]);
  });

  test('pages of x-ms-max-item-count, chained by x-ms-continuation, which the last page lacks', async () => {
    const text = "SELECT * FROM devices WHERE tags.suite = 'query'";
    const pages: string[][] = [];
    let continuation: string | undefined;
    do {
      const res = await query(text, { 'x-ms-max-item-count': '2', ...(continuation === undefined ? {} : { 'x-ms-continuation': continuation }) });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-ms-item-type'], 'twin');
      pages.push(res.json().map((t: { deviceId: string }) => t.deviceId));
      continuation = res.headers['x-ms-continuation'] as string | undefined;
      if (continuation !== undefined) assert.notEqual(continuation, '', 'never an empty continuation');
    } while (continuation !== undefined && pages.length < 10);
    assert.deepEqual(pages, [['q-1', 'q-2'], ['q-3', 'q-4'], ['q-5']]);
  });

  test('a syntax error is 400 ArgumentInvalid naming line and column', async () => {
    assertAzureError(await query('SELECT * FROM devices WHERE'), 400, 'ArgumentInvalid', /line 1, column \d+/);
    assertAzureError(await query('SELECT *\nFROM devices\nWHERE tags.a = = 1'), 400, 'ArgumentInvalid', /line 3, column \d+/);
    assertAzureError(await query('SELECT * FROM nowhere'), 400, 'ArgumentInvalid', /line 1, column 15/);
    assertAzureError(await query(''), 400, 'ArgumentInvalid');
    assertAzureError(await query(42), 400, 'ArgumentInvalid');
    assertAzureError(await call('POST', '/devices/query', {}), 400, 'ArgumentInvalid');
  });

  test('a bad page size or continuation is 400', async () => {
    for (const size of ['0', '-1', '1001', '1.5', 'ten']) {
      assertAzureError(await query('SELECT * FROM devices', { 'x-ms-max-item-count': size }), 400, 'ArgumentInvalid');
    }
    assertAzureError(await query('SELECT * FROM devices', { 'x-ms-continuation': '!!not-ours' }), 400, 'ArgumentInvalid');
    assert.equal((await query('SELECT * FROM devices', { 'x-ms-max-item-count': '1000' })).status, 200);
  });

  test('a registryRead policy may query; a device token and the device policy may not', async () => {
    const byReader = await query("SELECT * FROM devices WHERE tags.suite = 'query'", { authorization: hub.serviceToken('registryRead') });
    assert.equal(byReader.status, 200, byReader.text);
    assert.equal(byReader.json().length, 5);
    const device = await ok(call('GET', '/devices/q-1'));
    const token = createSasToken({ resource: 'localhost/devices/q-1', keyBase64: device.authentication.symmetricKey.primaryKey, expiry: Date.now() / 1000 + 60 });
    assertAzureError(await query('SELECT * FROM devices', { authorization: token }), 401, 'IotHubUnauthorizedAccess');
    assertAzureError(await query('SELECT * FROM devices', { authorization: hub.serviceToken('device') }), 401, 'IotHubUnauthorizedAccess');
  });
});
