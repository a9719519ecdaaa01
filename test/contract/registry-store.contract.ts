import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { isHubError, type ErrorName } from '../../src/domain/errors.js';
import type { DeviceRecord, ModuleRecord } from '../../src/domain/identity.js';
import type { RegistryStore } from '../../src/ports/registry-store.js';
import { storeTestFor } from './store-test.js';

export interface RegistryStoreInstance {
  store: RegistryStore;
  /** Closes the store and opens the same data again; only for backends that persist. */
  reopen?(): Promise<RegistryStore>;
  destroy(): Promise<void>;
}

export interface RegistryStoreHarness {
  name: string;
  create(): Promise<RegistryStoreInstance>;
}

function device(deviceId: string, fields: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    deviceId,
    generationId: `gen-${deviceId}`,
    version: 0,
    status: 'enabled',
    statusReason: null,
    statusUpdatedTime: '0001-01-01T00:00:00Z',
    authentication: {
      type: 'sas',
      symmetricKey: { primaryKey: 'cHJpbWFyeQ==', secondaryKey: 'c2Vjb25kYXJ5' },
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    },
    capabilities: { iotEdge: false },
    deviceScope: null,
    parentScopes: [],
    ...fields,
  };
}

/** A device whose every field differs from device()'s defaults, nulls included. */
function richDevice(deviceId: string): DeviceRecord {
  return device(deviceId, {
    generationId: '638000000000000001',
    status: 'disabled',
    statusReason: 'maintenance',
    statusUpdatedTime: '2024-05-06T07:08:09.123Z',
    authentication: {
      type: 'selfSigned',
      symmetricKey: { primaryKey: null, secondaryKey: null },
      x509Thumbprint: { primaryThumbprint: 'AB12', secondaryThumbprint: 'CD34' },
    },
    capabilities: { iotEdge: true },
    deviceScope: 'ms-azure-iot-edge://edge-1-638000000000000002',
    parentScopes: ['ms-azure-iot-edge://edge-1-638000000000000002', 'ms-azure-iot-edge://edge-0-3'],
  });
}

function module(deviceId: string, moduleId: string, fields: Partial<ModuleRecord> = {}): ModuleRecord {
  return {
    deviceId,
    moduleId,
    generationId: `gen-${deviceId}/${moduleId}`,
    version: 0,
    managedBy: null,
    authentication: {
      type: 'sas',
      symmetricKey: { primaryKey: 'bW9kMQ==', secondaryKey: 'bW9kMg==' },
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    },
    ...fields,
  };
}

/** The stored form of a record: what the store is expected to return for it. */
function stored<T extends { version: number }>(record: T, version: number): T {
  return { ...record, version };
}

async function rejectsWith(promise: Promise<unknown>, name: ErrorName, mentions: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isHubError(err), `expected a HubError, got ${String(err)}`);
    assert.equal(err.errorCode, name);
    assert.ok(err.message.includes(mentions), `message '${err.message}' should mention '${mentions}'`);
    return true;
  });
}


export function registryStoreContract(harness: RegistryStoreHarness): void {
  const storeTest = storeTestFor(harness);

  describe(`RegistryStore contract: ${harness.name}`, () => {
    describe('devices', () => {
      storeTest('create then get returns every field, with version 1', async ({ store }) => {
        const rich = { ...richDevice('rich'), version: 42 };
        const plain = device('plain');
        assert.deepEqual(await store.createDevice(rich), stored(rich, 1));
        assert.deepEqual(await store.createDevice(plain), stored(plain, 1));
        assert.deepEqual(await store.getDevice('rich'), stored(rich, 1));
        assert.deepEqual(await store.getDevice('plain'), stored(plain, 1));
      });

      storeTest('create of an existing id fails with DeviceAlreadyExists and keeps the first', async ({ store }) => {
        await store.createDevice(device('d1'));
        await rejectsWith(store.createDevice(richDevice('d1')), 'DeviceAlreadyExists', 'd1');
        assert.deepEqual(await store.getDevice('d1'), stored(device('d1'), 1));
      });

      storeTest('ids are case-sensitive', async ({ store }) => {
        await store.createDevice(device('Dev'));
        await store.createDevice(device('dev', { status: 'disabled' }));
        assert.equal((await store.getDevice('Dev'))?.status, 'enabled');
        assert.equal((await store.getDevice('dev'))?.status, 'disabled');
        assert.equal(await store.getDevice('DEV'), undefined);
      });

      storeTest('get of a missing device returns undefined', async ({ store }) => {
        await store.createDevice(device('present'));
        assert.equal(await store.getDevice('absent'), undefined);
      });

      storeTest('update replaces the fields, bumps the version and keeps the generationId', async ({ store }) => {
        const created = await store.createDevice(device('d1'));
        const changes = { ...richDevice('d1'), generationId: 'someone-else', version: 99 };
        const expected = { ...richDevice('d1'), generationId: created.generationId, version: 2 };
        assert.deepEqual(await store.updateDevice(changes), expected);
        assert.deepEqual(await store.getDevice('d1'), expected);
        assert.equal((await store.updateDevice(changes, 2)).version, 3);
      });

      storeTest('update with a stale expectedVersion fails with PreconditionFailed and changes nothing', async ({ store }) => {
        await store.createDevice(device('d1'));
        await store.updateDevice(device('d1', { statusReason: 'second' }));
        const before = await store.getDevice('d1');
        await rejectsWith(store.updateDevice(richDevice('d1'), 1), 'PreconditionFailed', 'd1');
        assert.deepEqual(await store.getDevice('d1'), before);
      });

      storeTest('update of a missing device fails with DeviceNotFound and creates nothing', async ({ store }) => {
        await rejectsWith(store.updateDevice(device('ghost')), 'DeviceNotFound', 'ghost');
        await rejectsWith(store.updateDevice(device('ghost'), 1), 'DeviceNotFound', 'ghost');
        assert.equal(await store.getDevice('ghost'), undefined);
      });

      storeTest('delete with the right, a wrong or no expectedVersion', async ({ store }) => {
        await store.createDevice(device('guarded'));
        await store.updateDevice(device('guarded'));
        await rejectsWith(store.deleteDevice('guarded', 1), 'PreconditionFailed', 'guarded');
        assert.equal((await store.getDevice('guarded'))?.version, 2);
        await store.deleteDevice('guarded', 2);
        assert.equal(await store.getDevice('guarded'), undefined);

        await store.createDevice(device('unguarded'));
        await store.deleteDevice('unguarded');
        assert.equal(await store.getDevice('unguarded'), undefined);
      });

      storeTest('delete of a missing device fails with DeviceNotFound', async ({ store }) => {
        await store.createDevice(device('other'));
        await rejectsWith(store.deleteDevice('ghost'), 'DeviceNotFound', 'ghost');
        await rejectsWith(store.deleteDevice('ghost', 1), 'DeviceNotFound', 'ghost');
        assert.equal((await store.countDevices()).total, 1);
      });

      storeTest('delete removes the device modules and no other', async ({ store }) => {
        await store.createDevice(device('d1'));
        await store.createDevice(device('d2'));
        await store.createModule(module('d1', 'm1'));
        await store.createModule(module('d1', 'm2'));
        await store.createModule(module('d2', 'm1'));
        await store.deleteDevice('d1');
        assert.equal(await store.getModule('d1', 'm1'), undefined);
        // A device created again under the same id starts without the old modules.
        await store.createDevice(device('d1'));
        assert.deepEqual(await store.listModules('d1'), []);
        assert.deepEqual(await store.listModules('d2'), [stored(module('d2', 'm1'), 1)]);
      });

      storeTest('a device created again after delete starts at version 1', async ({ store }) => {
        await store.createDevice(device('d1'));
        await store.updateDevice(device('d1'));
        await store.deleteDevice('d1');
        assert.equal((await store.createDevice(device('d1'))).version, 1);
      });
    });

    describe('listDevices and countDevices', () => {
      // Ascending byte order (# % ' - . 0-9 A-Z _ a-z), inserted in another order so that insertion order cannot pass.
      const expected = ['#hash', '%25', "'q", '0', '9z', 'A', 'Z', '_u', 'a', "a'b", 'a-b', 'a.b', 'aa', 'b', "it's", 'z'];
      const insertionOrder = ['a', 'Z', "it's", 'b', "a'b", '%25', 'A', 'aa', '#hash', '0', 'z', "'q", '_u', 'a.b', '9z', 'a-b'];

      storeTest('lists every device in binary id order', async ({ store }) => {
        for (const id of insertionOrder) await store.createDevice(device(id));
        const all = await store.listDevices({ limit: 100 });
        assert.deepEqual(all.map((d) => d.deviceId), expected);
        assert.deepEqual(all[0], stored(device('#hash'), 1));
      });

      storeTest('pages with limit and after', async ({ store }) => {
        for (const id of insertionOrder) await store.createDevice(device(id));
        const pages: string[][] = [];
        let after: string | undefined;
        // Bounded, so that a store whose `after` is inclusive fails instead of paging forever.
        for (let i = 0; i < 10; i++) {
          const page = await store.listDevices({ limit: 5, ...(after === undefined ? {} : { after }) });
          if (page.length === 0) break;
          pages.push(page.map((d) => d.deviceId));
          after = page.at(-1)?.deviceId;
        }
        assert.deepEqual(pages, [expected.slice(0, 5), expected.slice(5, 10), expected.slice(10, 15), expected.slice(15)]);
      });

      storeTest('after is exclusive, need not exist, and compares case-sensitively', async ({ store }) => {
        for (const id of insertionOrder) await store.createDevice(device(id));
        const ids = async (options: { limit: number; after?: string }) =>
          (await store.listDevices(options)).map((d) => d.deviceId);
        assert.deepEqual(await ids({ limit: 2, after: 'A' }), ['Z', '_u']);
        assert.deepEqual(await ids({ limit: 2, after: 'B' }), ['Z', '_u']);
        assert.deepEqual(await ids({ limit: 2, after: '_u' }), ['a', "a'b"]);
        assert.deepEqual(await ids({ limit: 3, after: 'a' }), ["a'b", 'a-b', 'a.b']);
        assert.deepEqual(await ids({ limit: 2, after: '%' }), ['%25', "'q"]);
        assert.deepEqual(await ids({ limit: 5, after: 'z' }), []);
        assert.deepEqual(await ids({ limit: 0 }), []);
      });

      storeTest('counts total, enabled and disabled devices', async ({ store }) => {
        assert.deepEqual(await store.countDevices(), { total: 0, enabled: 0, disabled: 0 });
        for (const id of ['e1', 'e2', 'e3']) await store.createDevice(device(id));
        for (const id of ['x1', 'x2']) await store.createDevice(device(id, { status: 'disabled' }));
        assert.deepEqual(await store.countDevices(), { total: 5, enabled: 3, disabled: 2 });
        await store.updateDevice(device('x1'));
        await store.deleteDevice('e1');
        assert.deepEqual(await store.countDevices(), { total: 4, enabled: 3, disabled: 1 });
      });
    });

    describe('applyDeviceWrites', () => {
      storeTest('commits every write, in order, when all succeed', async ({ store }) => {
        await store.createDevice(device('existing'));
        await store.createDevice(device('doomed'));
        const results = await store.applyDeviceWrites([
          { op: 'create', device: device('new') },
          { op: 'update', device: device('new', { statusReason: 'same batch' }), expectedVersion: 1 },
          { op: 'update', device: device('existing', { status: 'disabled' }), expectedVersion: 1 },
          { op: 'delete', deviceId: 'doomed', expectedVersion: 1 },
        ]);
        assert.deepEqual(results, [undefined, undefined, undefined, undefined]);
        assert.deepEqual(await store.getDevice('new'), stored(device('new', { statusReason: 'same batch' }), 2));
        assert.deepEqual(await store.getDevice('existing'), stored(device('existing', { status: 'disabled' }), 2));
        assert.equal(await store.getDevice('doomed'), undefined);
      });

      storeTest('rolls back everything and reports each failure at its index', async ({ store }) => {
        await store.createDevice(device('existing'));
        await store.createDevice(device('kept'));
        const before = await store.listDevices({ limit: 10 });
        const results = await store.applyDeviceWrites([
          { op: 'create', device: device('new') },
          { op: 'create', device: device('existing') },
          { op: 'update', device: device('existing', { status: 'disabled' }), expectedVersion: 1 },
          { op: 'update', device: device('kept'), expectedVersion: 7 },
          { op: 'delete', deviceId: 'ghost' },
          { op: 'delete', deviceId: 'kept' },
          { op: 'create', device: device('new') },
        ]);
        assert.deepEqual(results.map((r) => r?.errorCode), [
          undefined,
          'DeviceAlreadyExists',
          undefined,
          'PreconditionFailed',
          'DeviceNotFound',
          undefined,
          'DeviceAlreadyExists', // the create at index 0 is visible to later writes of the batch
        ]);
        assert.ok(results.every((r) => r === undefined || isHubError(r)));
        assert.deepEqual(await store.listDevices({ limit: 10 }), before);
      });

      storeTest('an empty batch is a no-op', async ({ store }) => {
        assert.deepEqual(await store.applyDeviceWrites([]), []);
        assert.equal((await store.countDevices()).total, 0);
      });
    });

    describe('modules', () => {
      storeTest('create then get returns every field, with version 1', async ({ store }) => {
        await store.createDevice(device('d1'));
        const managed = module('d1', 'm1', {
          version: 5,
          managedBy: 'IotEdge',
          authentication: {
            type: 'certificateAuthority',
            symmetricKey: { primaryKey: null, secondaryKey: null },
            x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
          },
        });
        const plain = module('d1', 'm2');
        assert.deepEqual(await store.createModule(managed), stored(managed, 1));
        assert.deepEqual(await store.createModule(plain), stored(plain, 1));
        assert.deepEqual(await store.getModule('d1', 'm1'), stored(managed, 1));
        assert.deepEqual(await store.getModule('d1', 'm2'), stored(plain, 1));
      });

      storeTest('create errors: duplicate module, missing device', async ({ store }) => {
        await store.createDevice(device('d1'));
        await store.createModule(module('d1', 'm1'));
        await rejectsWith(store.createModule(module('d1', 'm1', { managedBy: 'x' })), 'ModuleAlreadyExistsOnDevice', 'm1');
        assert.equal((await store.getModule('d1', 'm1'))?.managedBy, null);
        await rejectsWith(store.createModule(module('ghost', 'm1')), 'DeviceNotFound', 'ghost');
        assert.equal(await store.getModule('ghost', 'm1'), undefined);
      });

      storeTest('module ids are per device and case-sensitive', async ({ store }) => {
        await store.createDevice(device('d1'));
        await store.createDevice(device('d2'));
        await store.createModule(module('d1', 'm', { managedBy: 'one' }));
        await store.createModule(module('d1', 'M', { managedBy: 'two' }));
        await store.createModule(module('d2', 'm', { managedBy: 'three' }));
        assert.equal((await store.getModule('d1', 'm'))?.managedBy, 'one');
        assert.equal((await store.getModule('d1', 'M'))?.managedBy, 'two');
        assert.equal((await store.getModule('d2', 'm'))?.managedBy, 'three');
        assert.equal(await store.getModule('d2', 'M'), undefined);
        assert.equal(await store.getModule('d3', 'm'), undefined);
      });

      storeTest('update bumps the version, keeps generationId, honours expectedVersion', async ({ store }) => {
        await store.createDevice(device('d1'));
        const created = await store.createModule(module('d1', 'm1'));
        const changes = module('d1', 'm1', { generationId: 'someone-else', version: 50, managedBy: 'me' });
        const expected = { ...changes, generationId: created.generationId, version: 2 };
        assert.deepEqual(await store.updateModule(changes, 1), expected);
        assert.deepEqual(await store.getModule('d1', 'm1'), expected);

        await rejectsWith(store.updateModule(module('d1', 'm1'), 1), 'PreconditionFailed', 'm1');
        assert.deepEqual(await store.getModule('d1', 'm1'), expected);
        assert.equal((await store.updateModule(module('d1', 'm1'))).version, 3);
      });

      storeTest('update of a missing module fails with ModuleNotFound', async ({ store }) => {
        await store.createDevice(device('d1'));
        await rejectsWith(store.updateModule(module('d1', 'ghost')), 'ModuleNotFound', 'ghost');
        assert.equal(await store.getModule('d1', 'ghost'), undefined);
      });

      storeTest('delete with a wrong, the right or no expectedVersion; delete missing', async ({ store }) => {
        await store.createDevice(device('d1'));
        await store.createModule(module('d1', 'm1'));
        await store.createModule(module('d1', 'm2'));
        await rejectsWith(store.deleteModule('d1', 'm1', 3), 'PreconditionFailed', 'm1');
        assert.notEqual(await store.getModule('d1', 'm1'), undefined);
        await store.deleteModule('d1', 'm1', 1);
        await store.deleteModule('d1', 'm2');
        assert.deepEqual(await store.listModules('d1'), []);
        await rejectsWith(store.deleteModule('d1', 'm1'), 'ModuleNotFound', 'm1');
        assert.notEqual(await store.getDevice('d1'), undefined);
      });

      storeTest('list returns one device modules in binary id order', async ({ store }) => {
        await store.createDevice(device('d1'));
        await store.createDevice(device('d2'));
        assert.deepEqual(await store.listModules('d1'), []);
        for (const id of ['b', 'B', 'a', '%x', 'A']) await store.createModule(module('d1', id));
        await store.createModule(module('d2', 'c'));
        const listed = await store.listModules('d1');
        assert.deepEqual(listed.map((m) => m.moduleId), ['%x', 'A', 'B', 'a', 'b']);
        assert.deepEqual(listed[1], stored(module('d1', 'A'), 1));
      });

      storeTest('list on a missing device fails with DeviceNotFound', async ({ store }) => {
        await rejectsWith(store.listModules('ghost'), 'DeviceNotFound', 'ghost');
      });
    });

    describe('concurrency', () => {
      storeTest('parallel guarded updates with the same expectedVersion: exactly one wins', async ({ store }) => {
        await store.createDevice(device('d1'));
        const attempts = Array.from({ length: 8 }, (_, i) => device('d1', { statusReason: `writer ${i}` }));
        const outcomes = await Promise.allSettled(attempts.map((d) => store.updateDevice(d, 1)));
        const winners = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
        assert.equal(winners.length, 1);
        assert.equal(losers.length, attempts.length - 1);
        for (const err of losers) assert.ok(isHubError(err, 'PreconditionFailed'), `unexpected: ${String(err)}`);
        assert.equal(winners[0]?.version, 2);
        assert.deepEqual(await store.getDevice('d1'), winners[0]);
      });

      storeTest('parallel creates of one id: exactly one wins', async ({ store }) => {
        const attempts = Array.from({ length: 8 }, (_, i) => device('d1', { generationId: `gen-${i}` }));
        const outcomes = await Promise.allSettled(attempts.map((d) => store.createDevice(d)));
        const winners = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        assert.equal(winners.length, 1);
        for (const o of outcomes) {
          if (o.status === 'rejected') assert.ok(isHubError(o.reason, 'DeviceAlreadyExists'), String(o.reason));
        }
        assert.deepEqual(await store.getDevice('d1'), winners[0]);
      });

      storeTest('parallel guarded module updates: exactly one wins', async ({ store }) => {
        await store.createDevice(device('d1'));
        await store.createModule(module('d1', 'm1'));
        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.updateModule(module('d1', 'm1', { managedBy: `w${i}` }), 1)),
        );
        const winners = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        assert.equal(winners.length, 1);
        for (const o of outcomes) {
          if (o.status === 'rejected') assert.ok(isHubError(o.reason, 'PreconditionFailed'), String(o.reason));
        }
        assert.deepEqual(await store.getModule('d1', 'm1'), winners[0]);
      });
    });

    describe('durability', () => {
      storeTest('everything written before reopen is there after it', async (instance, skip) => {
        if (instance.reopen === undefined) return skip('the backend does not persist (no reopen)');
        let store = instance.store;
        await store.createDevice(richDevice('rich'));
        await store.createDevice(device('A'));
        await store.createDevice(device('a'));
        await store.createDevice(device('gone'));
        await store.updateDevice(device('A', { status: 'disabled' }), 1);
        await store.deleteDevice('gone');
        await store.createModule(module('rich', 'm1', { managedBy: 'IotEdge' }));
        await store.createModule(module('a', 'm1'));
        await store.updateModule(module('a', 'm1', { managedBy: 'later' }));
        await store.applyDeviceWrites([{ op: 'create', device: device('batched') }]);

        store = await instance.reopen();
        assert.deepEqual(
          (await store.listDevices({ limit: 10 })).map((d) => [d.deviceId, d.version]),
          [['A', 2], ['a', 1], ['batched', 1], ['rich', 1]],
        );
        assert.deepEqual(await store.getDevice('rich'), stored(richDevice('rich'), 1));
        assert.deepEqual(await store.getDevice('A'), stored(device('A', { status: 'disabled' }), 2));
        assert.equal(await store.getDevice('gone'), undefined);
        assert.deepEqual(await store.listModules('rich'), [stored(module('rich', 'm1', { managedBy: 'IotEdge' }), 1)]);
        assert.deepEqual(await store.listModules('a'), [stored(module('a', 'm1', { managedBy: 'later' }), 2)]);
        assert.deepEqual(await store.countDevices(), { total: 4, enabled: 2, disabled: 2 });
        // The reopened store carries on from the stored versions.
        await rejectsWith(store.updateDevice(device('A'), 1), 'PreconditionFailed', 'A');
        assert.equal((await store.updateDevice(device('A'), 2)).version, 3);
      });
    });
  });
}
