import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { HubError } from '../../src/domain/errors.js';
import type { JsonObject, TwinRecord, TwinTarget } from '../../src/domain/twin.js';
import { ABSENT, type TwinStore } from '../../src/ports/twin-store.js';
import { storeTestFor } from './store-test.js';

export interface TwinStoreInstance {
  store: TwinStore;
  /** Closes the store and opens the same data again; only for backends that persist. */
  reopen?(): Promise<TwinStore>;
  destroy(): Promise<void>;
}

export interface TwinStoreHarness {
  name: string;
  create(): Promise<TwinStoreInstance>;
}

const AT = '2025-01-02T03:04:05.678Z';
const DEVICE: TwinTarget = { deviceId: 'dev-1' };
const MODULE: TwinTarget = { deviceId: 'dev-1', moduleId: 'mod-a' };

/** A twin as the service would store it; `mark` goes into tags and reported properties to tell records apart. */
function twin(target: TwinTarget, version: number, mark: string = `v${version}`): TwinRecord {
  const record: TwinRecord = {
    deviceId: target.deviceId,
    version,
    tags: { mark, location: { building: 43, floor: 'B1' } },
    desired: {
      properties: { telemetryInterval: 30 },
      version: 2,
      metadata: { $lastUpdated: AT, $lastUpdatedVersion: 2, telemetryInterval: { $lastUpdated: AT, $lastUpdatedVersion: 2 } },
    },
    reported: {
      properties: { mark, firmware: { version: '1.2.3' } },
      version: version + 10,
      metadata: { $lastUpdated: AT, mark: { $lastUpdated: AT }, firmware: { $lastUpdated: AT, version: { $lastUpdated: AT } } },
    },
  };
  if (target.moduleId !== undefined) record.moduleId = target.moduleId;
  return record;
}

/** Every JSON document of a record, serialised: equal output means equal key order and number spelling too. */
function documents(record: TwinRecord | undefined): string {
  assert.ok(record, 'the twin exists');
  const { tags, desired, reported } = record;
  return JSON.stringify([tags, desired.properties, desired.metadata, reported.properties, reported.metadata]);
}

async function rejectsPreconditionFailed(write: Promise<unknown>): Promise<void> {
  await assert.rejects(write, (err: unknown) => {
    assert.ok(err instanceof HubError, `a HubError, got ${String(err)}`);
    assert.equal(err.errorCode, 'PreconditionFailed');
    return true;
  });
}

const idsOf = (twins: readonly TwinRecord[]) => twins.map((t) => (t.moduleId === undefined ? t.deviceId : `${t.deviceId}|${t.moduleId}`));

async function putAll(store: TwinStore, targets: readonly TwinTarget[]): Promise<void> {
  for (const target of targets) await store.put(twin(target, 1), ABSENT);
}

/** Nested `depth` levels deep, with a leaf at the bottom. */
function nested(depth: number): JsonObject {
  let value: JsonObject = { leaf: [depth, 'bottom', null] };
  for (let level = depth - 1; level >= 0; level--) value = { [`level${level}`]: value, n: level };
  return value;
}

/** JSON at its edges: every value type, deep nesting, unicode, numbers at their limits, keys in no sorted order. */
const AWKWARD: JsonObject = {
  zebra: 1,
  apple: 2,
  Mango: 3,
  '': 'empty key',
  '10': 'integer-like keys', // JavaScript puts these first, in numeric order; they must stay so
  '9': 'nine',
  'ünïcödé 键 🔑': 'värde 值 😀 \u0301e\u0000nul "quoted" \\ back\nslash\ttab \ud800 lone surrogate',
  numbers: [0, -1, 4503599627370495, -4503599627370495, Number.MAX_SAFE_INTEGER, 0.1, -2.5e-7, 1.7976931348623157e308, 5e-324, 1e21, 123456.789],
  booleans: { yes: true, no: false },
  nothing: null,
  arrays: [[], [[1, [2, [3]]]], [{ a: 1 }, { b: [null, false, 'x'] }], ['mixed', 1, true, null, {}]],
  empty: { object: {}, array: [], string: '' },
  deep: nested(40),
};

export function twinStoreContract(harness: TwinStoreHarness): void {
  const storeTest = storeTestFor(harness);

  describe(`TwinStore contract: ${harness.name}`, () => {
    describe('get and put', () => {
      storeTest('a twin never stored is undefined', async ({ store }) => {
        assert.equal(await store.get(DEVICE), undefined);
        assert.equal(await store.get(MODULE), undefined);
      });

      storeTest('put ABSENT creates the twin, which get returns as stored', async ({ store }) => {
        const record = twin(DEVICE, 1);
        await store.put(record, ABSENT);
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 1));
      });

      storeTest('a second put ABSENT fails PreconditionFailed and changes nothing', async ({ store }) => {
        await store.put(twin(DEVICE, 1, 'first'), ABSENT);
        await rejectsPreconditionFailed(store.put(twin(DEVICE, 1, 'second'), ABSENT));
        await rejectsPreconditionFailed(store.put(twin(DEVICE, 5, 'third'), ABSENT));
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 1, 'first'));
      });

      storeTest('put with the stored version replaces the whole twin, with the version the record has', async ({ store }) => {
        await store.put(twin(DEVICE, 1), ABSENT);
        const next: TwinRecord = {
          deviceId: DEVICE.deviceId,
          version: 2,
          tags: {},
          desired: { properties: { only: 'this' }, version: 3, metadata: { $lastUpdated: AT, $lastUpdatedVersion: 3 } },
          reported: { properties: {}, version: 1, metadata: { $lastUpdated: AT } },
        };
        await store.put(next, 1);
        assert.deepEqual(await store.get(DEVICE), next);
        // The store computes no versions: it keeps what it is given.
        await store.put(twin(DEVICE, 7), 2);
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 7));
        await store.put(twin(DEVICE, 8), 7);
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 8));
      });

      storeTest('put with another version fails PreconditionFailed and changes nothing', async ({ store }) => {
        await store.put(twin(DEVICE, 3), ABSENT);
        for (const wrong of [2, 4, 0, 1]) {
          await rejectsPreconditionFailed(store.put(twin(DEVICE, wrong + 1, `wrong ${wrong}`), wrong));
        }
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 3));
      });

      storeTest('put with a version on a missing twin fails PreconditionFailed and creates nothing', async ({ store }) => {
        await rejectsPreconditionFailed(store.put(twin(DEVICE, 2), 1));
        await rejectsPreconditionFailed(store.put(twin(MODULE, 2), 1));
        assert.equal(await store.get(DEVICE), undefined);
        assert.equal(await store.get(MODULE), undefined);
        assert.deepEqual(await store.list({ modules: false, limit: 10 }), []);
        assert.deepEqual(await store.list({ modules: true, limit: 10 }), []);
      });

      storeTest('of two puts racing with the same expected version, exactly one wins', async ({ store }) => {
        await store.put(twin(DEVICE, 1), ABSENT);
        const results = await Promise.allSettled([store.put(twin(DEVICE, 2, 'left'), 1), store.put(twin(DEVICE, 2, 'right'), 1)]);
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        assert.equal(won.length, 1, `exactly one put won: ${results.map((r) => r.status).join(', ')}`);
        const lost = results[1 - won[0]!] as PromiseRejectedResult;
        await rejectsPreconditionFailed(Promise.reject(lost.reason));
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 2, won[0] === 0 ? 'left' : 'right'));
      });

      storeTest('of puts racing to create a twin, exactly one wins', async ({ store }) => {
        const marks = ['a', 'b', 'c', 'd'];
        const results = await Promise.allSettled(marks.map((mark) => store.put(twin(MODULE, 1, mark), ABSENT)));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        assert.equal(won.length, 1, `exactly one put won: ${results.map((r) => r.status).join(', ')}`);
        for (const r of results) if (r.status === 'rejected') await rejectsPreconditionFailed(Promise.reject(r.reason));
        assert.deepEqual(await store.get(MODULE), twin(MODULE, 1, marks[won[0]!]));
      });

      storeTest('a chain of puts, each expecting the version before, all succeed in order', async ({ store }) => {
        await store.put(twin(DEVICE, 1), ABSENT);
        await Promise.all([2, 3, 4, 5].map((v) => store.put(twin(DEVICE, v), v - 1)));
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 5));
      });

      storeTest('300 concurrent puts to distinct twins all succeed', async ({ store }) => {
        const targets: TwinTarget[] = [];
        for (let i = 0; i < 150; i++) {
          const deviceId = `load-${String(i).padStart(3, '0')}`;
          targets.push({ deviceId }, { deviceId, moduleId: 'm' });
        }
        const results = await Promise.allSettled(targets.map((t) => store.put(twin(t, 1, `${t.deviceId}/${t.moduleId ?? ''}`), ABSENT)));
        assert.deepEqual(results.filter((r) => r.status === 'rejected'), []);
        const devices = await store.list({ modules: false, limit: 1000 });
        const modules = await store.list({ modules: true, limit: 1000 });
        assert.deepEqual(devices, targets.filter((t) => t.moduleId === undefined).map((t) => twin(t, 1, `${t.deviceId}/`)));
        assert.deepEqual(modules, targets.filter((t) => t.moduleId !== undefined).map((t) => twin(t, 1, `${t.deviceId}/m`)));
      });
    });

    describe('records', () => {
      storeTest('JSON round-trips exactly: types, nesting, unicode, numbers and key order', async ({ store }) => {
        const record: TwinRecord = {
          ...twin(MODULE, 4503599627370495),
          tags: AWKWARD,
          desired: { properties: { ...AWKWARD, extra: 1 }, version: 4503599627370495, metadata: { z: { $lastUpdated: AT }, a: AWKWARD } },
        };
        record.reported = { properties: { b: AWKWARD, a: 0.30000000000000004 }, version: 1, metadata: { y: AWKWARD, x: {} } };
        const expected = structuredClone(record);
        await store.put(record, ABSENT);
        const got = await store.get(MODULE);
        assert.deepEqual(got, expected);
        assert.equal(documents(got), documents(expected));
        assert.deepEqual(Object.keys(got!.tags), ['9', '10', 'zebra', 'apple', 'Mango', '', 'ünïcödé 键 🔑', 'numbers', 'booleans', 'nothing', 'arrays', 'empty', 'deep']);
        assert.equal((got!.tags.numbers as number[])[2], 4503599627370495);
        assert.equal(got!.version, 4503599627370495);

        const listed = await store.list({ modules: true, limit: 10 });
        assert.equal(listed.length, 1);
        assert.equal(documents(listed[0]), documents(expected));
      });

      storeTest('a device twin has no moduleId; a module twin has its own', async ({ store }) => {
        await store.put(twin(DEVICE, 1), ABSENT);
        await store.put(twin(MODULE, 1), ABSENT);
        const device = await store.get(DEVICE);
        assert.ok(device);
        assert.equal('moduleId' in device, false);
        assert.equal((await store.get(MODULE))?.moduleId, 'mod-a');
      });

      storeTest('returned records are copies: changing them changes nothing stored', async ({ store }) => {
        await store.put(twin(DEVICE, 1), ABSENT);
        const got = (await store.get(DEVICE))!;
        got.version = 99;
        got.tags.mark = 'changed';
        (got.tags.location as JsonObject).floor = 'changed';
        got.desired.properties.added = true;
        (got.reported.metadata.firmware as JsonObject).version = null;
        const [listed] = await store.list({ modules: false, limit: 1 });
        listed!.reported.properties.mark = 'changed';
        (listed!.reported.properties.firmware as JsonObject).version = 'changed';
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 1));
        assert.notEqual(await store.get(DEVICE), await store.get(DEVICE));
      });

      storeTest('put stores the record as it was when called: later changes to it are not stored', async ({ store }) => {
        const record = twin(DEVICE, 1);
        const pending = store.put(record, ABSENT);
        record.tags.mark = 'changed before the put resolved';
        record.desired.properties.telemetryInterval = 1;
        await pending;
        (record.tags.location as JsonObject).building = 0;
        record.reported.properties.mark = 'changed after';
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 1));
      });

      storeTest('a module twin is separate from its device twin and from other modules', async ({ store }) => {
        const other: TwinTarget = { deviceId: 'dev-1', moduleId: 'mod-b' };
        await store.put(twin(MODULE, 1, 'module a'), ABSENT);
        assert.equal(await store.get(DEVICE), undefined);
        assert.equal(await store.get(other), undefined);
        await store.put(twin(DEVICE, 1, 'device'), ABSENT);
        await store.put(twin(other, 1, 'module b'), ABSENT);
        await store.put(twin(MODULE, 2, 'module a again'), 1);
        await rejectsPreconditionFailed(store.put(twin(DEVICE, 3, 'device again'), 2));
        assert.deepEqual(await store.get(DEVICE), twin(DEVICE, 1, 'device'));
        assert.deepEqual(await store.get(MODULE), twin(MODULE, 2, 'module a again'));
        assert.deepEqual(await store.get(other), twin(other, 1, 'module b'));
      });

      storeTest('ids are exact: case and odd characters', async ({ store }) => {
        const targets: TwinTarget[] = [{ deviceId: 'Dev' }, { deviceId: 'dev' }, { deviceId: "d%41+$#?=!'(x):.@;" }, { deviceId: 'dev', moduleId: 'Mod' }];
        for (const [i, target] of targets.entries()) await store.put(twin(target, 1, `#${i}`), ABSENT);
        for (const [i, target] of targets.entries()) assert.deepEqual(await store.get(target), twin(target, 1, `#${i}`));
        assert.equal(await store.get({ deviceId: 'DEV' }), undefined);
        assert.equal(await store.get({ deviceId: 'dev', moduleId: 'mod' }), undefined);
        assert.equal(await store.get({ deviceId: 'Dev', moduleId: 'Mod' }), undefined);
      });
    });

    describe('list', () => {
      const DEVICES = ['b', 'a', 'B', 'A', 'dev-1', 'dev', 'dev1', '_x', '0'];

      storeTest('device twins come in binary order of device id, without module twins', async ({ store }) => {
        await putAll(store, DEVICES.map((deviceId) => ({ deviceId })));
        await putAll(store, [{ deviceId: 'a', moduleId: 'm' }, { deviceId: 'zz-only-module', moduleId: 'm' }]);
        const listed = await store.list({ modules: false, limit: 100 });
        assert.deepEqual(idsOf(listed), ['0', 'A', 'B', '_x', 'a', 'b', 'dev', 'dev-1', 'dev1']);
        assert.deepEqual(listed[0], twin({ deviceId: '0' }, 1));
      });

      storeTest('module twins come in binary (deviceId, moduleId) order, without device twins', async ({ store }) => {
        const modules: TwinTarget[] = [
          { deviceId: 'dev-1', moduleId: 'a' },
          { deviceId: 'dev', moduleId: 'b' },
          { deviceId: 'dev', moduleId: 'B' },
          { deviceId: 'dev', moduleId: 'a' },
          { deviceId: 'B', moduleId: 'z' },
          { deviceId: 'a', moduleId: 'a' },
        ];
        await putAll(store, modules);
        await putAll(store, [{ deviceId: 'dev' }, { deviceId: 'A' }]);
        const listed = await store.list({ modules: true, limit: 100 });
        // Compared as pairs, not as joined strings: ('dev', 'a') sorts before ('dev-1', 'a').
        assert.deepEqual(idsOf(listed), ['B|z', 'a|a', 'dev|B', 'dev|a', 'dev|b', 'dev-1|a']);
        assert.deepEqual(listed[0], twin({ deviceId: 'B', moduleId: 'z' }, 1));
      });

      storeTest('limit bounds the page; 0 gives nothing', async ({ store }) => {
        await putAll(store, DEVICES.map((deviceId) => ({ deviceId })));
        assert.deepEqual(idsOf(await store.list({ modules: false, limit: 3 })), ['0', 'A', 'B']);
        assert.deepEqual(idsOf(await store.list({ modules: false, limit: 1 })), ['0']);
        assert.deepEqual(await store.list({ modules: false, limit: 0 }), []);
        assert.deepEqual(await store.list({ modules: true, limit: 3 }), []);
      });

      storeTest('after pages through 25 device twins in pages of 10', async ({ store }) => {
        const ids = Array.from({ length: 25 }, (_, i) => `d${String(i).padStart(2, '0')}`);
        await putAll(store, [...ids].reverse().map((deviceId) => ({ deviceId })));
        const pages: string[][] = [];
        let after: TwinTarget | undefined;
        // Bounded, so a store that repeats a page fails here instead of looping forever.
        for (let i = 0; i < 5; i++) {
          const page = await store.list({ modules: false, limit: 10, ...(after && { after }) });
          if (page.length === 0) break;
          pages.push(idsOf(page));
          after = page[page.length - 1];
        }
        assert.deepEqual(pages, [ids.slice(0, 10), ids.slice(10, 20), ids.slice(20)]);
      });

      storeTest('after pages through 25 module twins in pages of 10', async ({ store }) => {
        const targets = Array.from({ length: 25 }, (_, i) => ({ deviceId: `d${i % 3}`, moduleId: `m${String(i).padStart(2, '0')}` }));
        await putAll(store, targets);
        await putAll(store, [{ deviceId: 'd0' }, { deviceId: 'd1' }, { deviceId: 'd2' }]);
        const expected = idsOf(targets.map((t) => twin(t, 1))).sort();
        const pages: string[][] = [];
        let after: TwinTarget | undefined;
        // Bounded, so a store that repeats a page fails here instead of looping forever.
        for (let i = 0; i < 5; i++) {
          const page = await store.list({ modules: true, limit: 10, ...(after && { after }) });
          if (page.length === 0) break;
          pages.push(idsOf(page));
          after = { deviceId: page[page.length - 1]!.deviceId, moduleId: page[page.length - 1]!.moduleId! };
        }
        assert.deepEqual(pages, [expected.slice(0, 10), expected.slice(10, 20), expected.slice(20)]);
        assert.equal(expected[0], 'd0|m00');
        assert.equal(expected[24], 'd2|m23');
      });

      storeTest('after is strictly after, and need not be a stored twin', async ({ store }) => {
        await putAll(store, DEVICES.map((deviceId) => ({ deviceId })));
        await putAll(store, [
          { deviceId: 'dev', moduleId: 'a' },
          { deviceId: 'dev', moduleId: 'c' },
          { deviceId: 'dev1', moduleId: 'a' },
        ]);
        assert.deepEqual(idsOf(await store.list({ modules: false, limit: 3, after: { deviceId: 'a' } })), ['b', 'dev', 'dev-1']);
        assert.deepEqual(idsOf(await store.list({ modules: false, limit: 3, after: { deviceId: 'c' } })), ['dev', 'dev-1', 'dev1']);
        assert.deepEqual(idsOf(await store.list({ modules: false, limit: 3, after: { deviceId: 'dev1' } })), []);
        assert.deepEqual(idsOf(await store.list({ modules: true, limit: 10, after: { deviceId: 'dev', moduleId: 'a' } })), ['dev|c', 'dev1|a']);
        assert.deepEqual(idsOf(await store.list({ modules: true, limit: 10, after: { deviceId: 'dev', moduleId: 'b' } })), ['dev|c', 'dev1|a']);
        assert.deepEqual(idsOf(await store.list({ modules: true, limit: 10, after: { deviceId: 'dev', moduleId: 'c' } })), ['dev1|a']);
        // A device's own twin sorts before its modules' twins.
        assert.deepEqual(idsOf(await store.list({ modules: true, limit: 10, after: { deviceId: 'dev' } })), ['dev|a', 'dev|c', 'dev1|a']);
        assert.deepEqual(idsOf(await store.list({ modules: false, limit: 10, after: { deviceId: 'dev', moduleId: 'a' } })), ['dev-1', 'dev1']);
      });
    });

    describe('delete', () => {
      storeTest("deleteDevice removes the device's twin and its modules' twins, and no other device's", async ({ store }) => {
        const gone: TwinTarget[] = [{ deviceId: 'dev' }, { deviceId: 'dev', moduleId: 'm1' }, { deviceId: 'dev', moduleId: 'm2' }];
        const kept: TwinTarget[] = [
          { deviceId: 'dev1' },
          { deviceId: 'dev1', moduleId: 'm1' },
          { deviceId: 'de' },
          { deviceId: 'Dev' },
          { deviceId: 'dev-1', moduleId: 'm1' },
        ];
        await putAll(store, [...gone, ...kept]);
        await store.deleteDevice('dev');
        for (const target of gone) assert.equal(await store.get(target), undefined);
        for (const target of kept) assert.deepEqual(await store.get(target), twin(target, 1));
        assert.deepEqual(idsOf(await store.list({ modules: false, limit: 10 })), ['Dev', 'de', 'dev1']);
        assert.deepEqual(idsOf(await store.list({ modules: true, limit: 10 })), ['dev-1|m1', 'dev1|m1']);
        // Deleted twins are absent: they can be created again.
        await store.put(twin({ deviceId: 'dev' }, 1, 'again'), ABSENT);
        assert.deepEqual(await store.get({ deviceId: 'dev' }), twin({ deviceId: 'dev' }, 1, 'again'));
      });

      storeTest('deleteDevice removes module twins of a device that has no twin of its own', async ({ store }) => {
        await putAll(store, [{ deviceId: 'dev', moduleId: 'm' }, { deviceId: 'other' }]);
        await store.deleteDevice('dev');
        assert.deepEqual(await store.list({ modules: true, limit: 10 }), []);
        assert.deepEqual(idsOf(await store.list({ modules: false, limit: 10 })), ['other']);
      });

      storeTest('deleteModule removes that module twin only', async ({ store }) => {
        const kept: TwinTarget[] = [{ deviceId: 'dev' }, { deviceId: 'dev', moduleId: 'm2' }, { deviceId: 'dev', moduleId: 'M1' }, { deviceId: 'dev1', moduleId: 'm1' }];
        await putAll(store, [{ deviceId: 'dev', moduleId: 'm1' }, ...kept]);
        await store.deleteModule('dev', 'm1');
        assert.equal(await store.get({ deviceId: 'dev', moduleId: 'm1' }), undefined);
        for (const target of kept) assert.deepEqual(await store.get(target), twin(target, 1));
        await store.put(twin({ deviceId: 'dev', moduleId: 'm1' }, 1, 'again'), ABSENT);
        assert.equal((await store.get({ deviceId: 'dev', moduleId: 'm1' }))?.tags.mark, 'again');
      });

      storeTest('deleting what is not there does not fail', async ({ store }) => {
        await store.put(twin(DEVICE, 1), ABSENT);
        await store.deleteDevice('nobody');
        await store.deleteModule('nobody', 'm');
        await store.deleteModule(DEVICE.deviceId, 'no-such-module');
        await store.deleteDevice(DEVICE.deviceId);
        await store.deleteDevice(DEVICE.deviceId);
        assert.equal(await store.get(DEVICE), undefined);
      });
    });

    describe('durability', () => {
      storeTest('twins, replacements and deletions survive a reopen', async (instance, skip) => {
        if (instance.reopen === undefined) return skip('this backend does not persist');
        const { store } = instance;
        const awkward: TwinRecord = { ...twin({ deviceId: 'awkward' }, 1), tags: AWKWARD };
        await store.put(awkward, ABSENT);
        await putAll(store, [DEVICE, MODULE, { deviceId: 'gone' }, { deviceId: 'dev-1', moduleId: 'gone' }]);
        await store.put(twin(DEVICE, 2, 'replaced'), 1);
        await store.deleteDevice('gone');
        await store.deleteModule('dev-1', 'gone');
        const reopened = await instance.reopen();
        assert.deepEqual(await reopened.get(DEVICE), twin(DEVICE, 2, 'replaced'));
        assert.deepEqual(await reopened.get(MODULE), twin(MODULE, 1));
        const got = await reopened.get({ deviceId: 'awkward' });
        assert.deepEqual(got, awkward);
        assert.equal(documents(got), documents(awkward));
        assert.deepEqual(idsOf(await reopened.list({ modules: false, limit: 10 })), ['awkward', 'dev-1']);
        assert.deepEqual(idsOf(await reopened.list({ modules: true, limit: 10 })), ['dev-1|mod-a']);
        await rejectsPreconditionFailed(reopened.put(twin(DEVICE, 3), 1));
        await reopened.put(twin(DEVICE, 3), 2);
        assert.deepEqual(await reopened.get(DEVICE), twin(DEVICE, 3));
      });
    });
  });
}
