import assert from 'node:assert/strict';
import { test } from 'node:test';
import iothub from 'azure-iothub';
import { createSasToken } from '../../src/domain/sas.js';
import type { AzureSuite } from './azure-sdk.test.js';

const { Registry } = iothub;

/** Scenarios of issue 2's "done when": the official Registry over its real HTTPS transport. */
export function registryScenarios(suite: AzureSuite): void {
  const registry = () => Registry.fromConnectionString(suite.serviceConnectionString());

  test('Registry creates a device with generated keys and reads it back', async () => {
    const created = (await registry().create({ deviceId: 'sdk-dev-1' })).responseBody;
    assert.equal(created.deviceId, 'sdk-dev-1');
    assert.equal(created.status, 'enabled');
    assert.equal((created.authentication as { type?: string } | undefined)?.type, 'sas');
    const keys = created.authentication?.symmetricKey;
    assert.equal(Buffer.from(keys?.primaryKey ?? '', 'base64').length, 32);
    assert.notEqual(keys?.primaryKey, keys?.secondaryKey);
    const read = (await registry().get('sdk-dev-1')).responseBody;
    assert.equal(read.generationId, created.generationId);
    assert.equal(read.etag, created.etag);
    assert.equal(read.connectionState, 'Disconnected');
  });

  test('Registry refuses a duplicate create with DeviceAlreadyExistsError', async () => {
    await registry().create({ deviceId: 'sdk-dup' });
    await assert.rejects(registry().create({ deviceId: 'sdk-dup' }), { name: 'DeviceAlreadyExistsError' });
  });

  test('Registry updates a device, keeping its keys, and the etag changes', async () => {
    const before = (await registry().create({ deviceId: 'sdk-upd' })).responseBody;
    const after = (await registry().update({ deviceId: 'sdk-upd', status: 'disabled' })).responseBody;
    assert.equal(after.status, 'disabled');
    assert.notEqual(after.etag, before.etag);
    assert.equal(after.authentication?.symmetricKey?.primaryKey, before.authentication?.symmetricKey?.primaryKey);
    assert.equal((await registry().get('sdk-upd')).responseBody.status, 'disabled');
  });

  test('Registry.update of a device that does not exist fails with DeviceNotFoundError', async () => {
    await assert.rejects(registry().update({ deviceId: 'sdk-never-created', status: 'disabled' }), { name: 'DeviceNotFoundError' });
  });

  test('Registry lists devices and deletes one', async () => {
    await registry().create({ deviceId: 'sdk-del' });
    const ids = (await registry().list()).responseBody.map((d) => d.deviceId);
    assert.ok(ids.includes('sdk-del'));
    await registry().delete('sdk-del');
    await assert.rejects(registry().get('sdk-del'), { name: 'DeviceNotFoundError' });
    await assert.rejects(registry().delete('sdk-del'), { name: 'DeviceNotFoundError' });
  });

  test('Registry bulk-creates, bulk-updates with etags and bulk-deletes devices', async () => {
    const ids = ['sdk-bulk-a', 'sdk-bulk-b', 'sdk-bulk-c'];
    const created = (await registry().addDevices(ids.map((deviceId) => ({ deviceId })))).responseBody;
    assert.equal(created.isSuccessful, true);
    for (const id of ids) assert.equal((await registry().get(id)).responseBody.deviceId, id);

    const current = await Promise.all(ids.map(async (id) => (await registry().get(id)).responseBody));
    const updated = (await registry().updateDevices(current.map((d) => ({ ...d, status: 'disabled' })), false)).responseBody;
    assert.equal(updated.isSuccessful, true);
    assert.equal((await registry().get('sdk-bulk-b')).responseBody.status, 'disabled');

    // The etags read before the update are stale now: a guarded bulk update fails as a whole.
    await assert.rejects(registry().updateDevices(current.map((d) => ({ ...d, status: 'enabled' })), false), { name: 'ArgumentError' });
    assert.equal((await registry().get('sdk-bulk-a')).responseBody.status, 'disabled');

    const removed = (await registry().removeDevices(ids.map((deviceId) => ({ deviceId })), true)).responseBody;
    assert.equal(removed.isSuccessful, true);
    await assert.rejects(registry().get('sdk-bulk-c'), { name: 'DeviceNotFoundError' });
  });

  test('Registry adds, reads, updates with etags and removes modules', async () => {
    await registry().create({ deviceId: 'sdk-mod-host' });
    await registry().addModule({ deviceId: 'sdk-mod-host', moduleId: 'm1' } as never);
    const mod = (await registry().getModule('sdk-mod-host', 'm1')).responseBody;
    assert.equal(mod.moduleId, 'm1');
    assert.equal((mod.authentication as { type?: string } | undefined)?.type, 'sas');
    const list = (await registry().getModulesOnDevice('sdk-mod-host')).responseBody;
    assert.deepEqual(list.map((m) => m.moduleId), ['m1']);

    const updated = (await registry().updateModule({ ...mod, managedBy: 'me' } as never, false)).responseBody as { etag: string; managedBy: string };
    assert.equal(updated.managedBy, 'me');
    await assert.rejects(registry().updateModule({ ...mod, managedBy: 'stale' } as never, false), { name: 'InvalidEtagError' });

    await registry().removeModule('sdk-mod-host', 'm1');
    await assert.rejects(registry().getModule('sdk-mod-host', 'm1'), (err: Error) => /not found/i.test(err.message));
  });

  test('Registry reports statistics', async () => {
    await registry().create({ deviceId: 'sdk-stat-off', status: 'disabled' });
    const stats = (await registry().getRegistryStatistics()).responseBody;
    assert.ok((stats.totalDeviceCount ?? 0) >= 1);
    assert.ok((stats.disabledDeviceCount ?? 0) >= 1);
    assert.equal(stats.totalDeviceCount, (stats.enabledDeviceCount ?? 0) + (stats.disabledDeviceCount ?? 0));
  });

  test('a service connection string with the secondary key works', async () => {
    const policy = suite.policy('iothubowner');
    const cs = `HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=${policy.secondaryKey}`;
    assert.ok(Array.isArray((await Registry.fromConnectionString(cs).list()).responseBody));
  });

  test('a wrong key is refused with UnauthorizedError', async () => {
    const cs = `HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`;
    await assert.rejects(Registry.fromConnectionString(cs).list(), { name: 'UnauthorizedError' });
  });

  test('an expired token is refused with UnauthorizedError', async () => {
    const policy = suite.policy('iothubowner');
    const expired = createSasToken({ resource: 'localhost', keyBase64: policy.primaryKey, keyName: 'iothubowner', expiry: Date.now() / 1000 - 60, encode: false });
    await assert.rejects(Registry.fromSharedAccessSignature(expired).list(), { name: 'UnauthorizedError' });
  });

  test('a policy without RegistryWrite may read but not create', async () => {
    const policy = suite.policy('registryRead');
    const reader = Registry.fromConnectionString(`HostName=localhost;SharedAccessKeyName=registryRead;SharedAccessKey=${policy.primaryKey}`);
    assert.ok(Array.isArray((await reader.list()).responseBody));
    await assert.rejects(reader.create({ deviceId: 'sdk-reader-made' }), { name: 'UnauthorizedError' });
    await assert.rejects(registry().get('sdk-reader-made'), { name: 'DeviceNotFoundError' });
    const service = suite.policy('service');
    const svc = Registry.fromConnectionString(`HostName=localhost;SharedAccessKeyName=service;SharedAccessKey=${service.primaryKey}`);
    await assert.rejects(svc.list(), { name: 'UnauthorizedError' });
  });
}
