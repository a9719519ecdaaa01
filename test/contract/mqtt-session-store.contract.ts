import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { MqttSessionStore, MqttSubscriptionRecord } from '../../src/ports/mqtt-session-store.js';
import { storeTestFor } from './store-test.js';

export interface MqttSessionStoreInstance {
  store: MqttSessionStore;
  /** Closes the store and opens the same data again; only for backends that persist. */
  reopen?(): Promise<MqttSessionStore>;
  destroy(): Promise<void>;
}

export interface MqttSessionStoreHarness {
  name: string;
  create(): Promise<MqttSessionStoreInstance>;
}

const T0 = Date.parse('2025-01-02T03:04:05.678Z');
const TWIN = { topic: '$iothub/twin/res/#', qos: 0 } as const;
const C2D = { topic: 'devices/dev 1/messages/devicebound/#', qos: 1 } as const;

export function mqttSessionStoreContract(harness: MqttSessionStoreHarness): void {
  const storeTest = storeTestFor(harness);

  describe(`MqttSessionStore contract: ${harness.name}`, () => {
    storeTest('a client without a session loads undefined', async ({ store }) => {
      assert.equal(await store.load('nobody'), undefined);
    });

    storeTest('save then load returns the subscriptions in order, and the time of the save', async ({ store }) => {
      await store.save('dev 1', [C2D, TWIN], T0);
      assert.deepEqual(await store.load('dev 1'), { clientId: 'dev 1', subscriptions: [C2D, TWIN], updatedAt: T0 });
    });

    storeTest('an empty session is a session', async ({ store }) => {
      await store.save('empty', [], T0);
      assert.deepEqual(await store.load('empty'), { clientId: 'empty', subscriptions: [], updatedAt: T0 });
    });

    storeTest('save replaces the whole session', async ({ store }) => {
      await store.save('c', [C2D, TWIN], T0);
      await store.save('c', [TWIN], T0 + 1000);
      assert.deepEqual(await store.load('c'), { clientId: 'c', subscriptions: [TWIN], updatedAt: T0 + 1000 });
    });

    storeTest('client ids are exact: case, module ids and odd characters', async ({ store }) => {
      await store.save('Dev', [TWIN], T0);
      await store.save('dev', [C2D], T0);
      await store.save('dev/mod', [], T0);
      await store.save("d%41+$#?=!'(x)", [C2D], T0);
      assert.deepEqual((await store.load('Dev'))?.subscriptions, [TWIN]);
      assert.deepEqual((await store.load('dev'))?.subscriptions, [C2D]);
      assert.deepEqual((await store.load('dev/mod'))?.subscriptions, []);
      assert.deepEqual((await store.load("d%41+$#?=!'(x)"))?.subscriptions, [C2D]);
      assert.equal(await store.load('DEV'), undefined);
      assert.equal(await store.load('dA+$#?=!\'(x)'), undefined);
    });

    storeTest('remove says whether there was a session and leaves the others', async ({ store }) => {
      await store.save('a', [TWIN], T0);
      await store.save('b', [C2D], T0);
      assert.equal(await store.remove('a'), true);
      assert.equal(await store.remove('a'), false);
      assert.equal(await store.remove('never'), false);
      assert.equal(await store.load('a'), undefined);
      assert.deepEqual((await store.load('b'))?.subscriptions, [C2D]);
    });

    storeTest('what load returns is a copy: changing it does not change the store', async ({ store }) => {
      const subscriptions: MqttSubscriptionRecord[] = [{ ...TWIN }];
      await store.save('c', subscriptions, T0);
      subscriptions[0]!.topic = 'changed after save';
      const loaded = await store.load('c');
      loaded!.subscriptions.push(C2D);
      assert.deepEqual((await store.load('c'))?.subscriptions, [TWIN]);
    });

    storeTest('sessions survive a reopen', async ({ store, reopen }, skip) => {
      if (!reopen) return skip('this backend does not persist');
      await store.save('kept', [C2D, TWIN], T0);
      await store.save('gone', [TWIN], T0);
      await store.remove('gone');
      const again = await reopen();
      assert.deepEqual(await again.load('kept'), { clientId: 'kept', subscriptions: [C2D, TWIN], updatedAt: T0 });
      assert.equal(await again.load('gone'), undefined);
    });
  });
}
