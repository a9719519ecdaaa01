import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { ConsumerGroupStore } from '../../src/ports/consumer-group-store.js';

export interface ConsumerGroupStoreInstance {
  store: ConsumerGroupStore;
  /** Opens the same data again; only for backends that persist. */
  reopen?(): Promise<ConsumerGroupStore>;
  destroy(): Promise<void>;
}

export interface ConsumerGroupStoreHarness {
  name: string;
  create(): Promise<ConsumerGroupStoreInstance>;
}

const T1 = '2024-05-06T07:08:09.123Z';
const T2 = '2025-01-02T03:04:05.006Z';

/** What every ConsumerGroupStore must do; each backend's runner calls this once. */
export function consumerGroupStoreContract(harness: ConsumerGroupStoreHarness): void {
  describe(`ConsumerGroupStore contract: ${harness.name}`, () => {
    let instance: ConsumerGroupStoreInstance;
    let store: ConsumerGroupStore;
    beforeEach(async () => {
      instance = await harness.create();
      store = instance.store;
    });
    afterEach(async () => instance.destroy());

    test('a new store has no groups', async () => {
      assert.deepEqual(await store.list(), []);
      assert.equal(await store.exists('anything'), false);
    });

    test('create stores the name as given and its creation time', async () => {
      assert.equal(await store.create('Readers', T1), true);
      assert.equal(await store.create('audit-2', T2), true);
      const listed = (await store.list()).sort((a, b) => (a.name < b.name ? -1 : 1));
      assert.deepEqual(listed, [
        { name: 'Readers', createdAt: T1 },
        { name: 'audit-2', createdAt: T2 },
      ]);
    });

    test('names are unique regardless of case; the first spelling and time stay', async () => {
      assert.equal(await store.create('Readers', T1), true);
      assert.equal(await store.create('READERS', T2), false);
      assert.equal(await store.create('readers', T2), false);
      assert.deepEqual(await store.list(), [{ name: 'Readers', createdAt: T1 }]);
    });

    test('exists and delete fold case', async () => {
      await store.create('Readers', T1);
      assert.equal(await store.exists('readers'), true);
      assert.equal(await store.exists('READERS'), true);
      assert.equal(await store.exists('reader'), false);
      assert.equal(await store.delete('rEaDeRs'), true);
      assert.equal(await store.exists('Readers'), false);
      assert.deepEqual(await store.list(), []);
    });

    test('delete of a group that does not exist is false and changes nothing', async () => {
      await store.create('keep', T1);
      assert.equal(await store.delete('other'), false);
      assert.deepEqual(await store.list(), [{ name: 'keep', createdAt: T1 }]);
    });

    test('a deleted name can be created again', async () => {
      await store.create('cycle', T1);
      await store.delete('cycle');
      assert.equal(await store.create('Cycle', T2), true);
      assert.deepEqual(await store.list(), [{ name: 'Cycle', createdAt: T2 }]);
    });

    test('list returns copies: changing them does not change the store', async () => {
      await store.create('solid', T1);
      const [first] = await store.list();
      first!.name = 'changed';
      assert.deepEqual(await store.list(), [{ name: 'solid', createdAt: T1 }]);
    });

    test('concurrent creates of one name: exactly one wins', async () => {
      const results = await Promise.all(['race', 'RACE', 'Race', 'race'].map((n, i) => store.create(n, `2024-01-0${i + 1}T00:00:00.000Z`)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.list()).length, 1);
    });

    test('groups survive reopening', async (t) => {
      if (!instance.reopen) return t.skip('this backend does not persist');
      await store.create('durable', T1);
      await store.create('gone', T2);
      await store.delete('gone');
      store = await instance.reopen();
      assert.deepEqual(await store.list(), [{ name: 'durable', createdAt: T1 }]);
      assert.equal(await store.exists('DURABLE'), true);
    });
  });
}
