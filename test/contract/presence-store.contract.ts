import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PresenceStore } from '../../src/ports/presence-store.js';
import { storeTestFor } from './store-test.js';

export interface PresenceStoreInstance {
  store: PresenceStore;
  destroy(): Promise<void>;
}

export interface PresenceStoreHarness {
  name: string;
  create(): Promise<PresenceStoreInstance>;
}

const LONG = 60_000;
/** Short enough to wait out in a test; the store's clock decides, so the checks allow for scheduling slack. */
const SHORT = 150;
const T0 = Date.parse('2026-01-02T03:04:05.678Z');

export function presenceStoreContract(harness: PresenceStoreHarness): void {
  const storeTest = storeTestFor(harness);

  describe(`PresenceStore contract: ${harness.name}`, () => {
    storeTest('an identity nobody held has no entry', async ({ store }) => {
      assert.equal(await store.lookup('dev'), undefined);
    });

    storeTest('the first renewal of a lease says it was not live; the next ones say it was', async ({ store }) => {
      assert.equal(await store.renewLease('a', LONG), false);
      assert.equal(await store.renewLease('a', LONG), true);
      assert.equal(await store.renewLease('b', LONG), false, 'leases are per node');
    });

    storeTest('hold then release: connected since the hold, then disconnected since the release', async ({ store }) => {
      await store.renewLease('a', LONG);
      await store.hold('dev/mod', 'a', T0);
      assert.deepEqual(await store.lookup('dev/mod'), { node: 'a', connected: true, since: T0 });
      assert.equal(await store.lookup('dev'), undefined, 'keys are exact');
      await store.release('dev/mod', 'a', T0, T0 + 5);
      assert.deepEqual(await store.lookup('dev/mod'), { node: 'a', connected: false, since: T0 + 5 });
    });

    storeTest('a release only ends the hold it names (node and start)', async ({ store }) => {
      await store.renewLease('a', LONG);
      await store.hold('dev', 'a', T0);
      await store.release('dev', 'b', T0, T0 + 1);
      await store.release('dev', 'a', T0 - 1, T0 + 1);
      assert.deepEqual(await store.lookup('dev'), { node: 'a', connected: true, since: T0 });
    });

    storeTest('of two nodes racing, the newer connection wins in either write order', async ({ store }) => {
      await store.renewLease('a', LONG);
      await store.renewLease('b', LONG);
      await store.hold('x', 'a', T0);
      await store.hold('x', 'b', T0 + 10);
      await store.hold('y', 'b', T0 + 10);
      await store.hold('y', 'a', T0);
      assert.deepEqual(await store.lookup('x'), { node: 'b', connected: true, since: T0 + 10 });
      assert.deepEqual(await store.lookup('y'), { node: 'b', connected: true, since: T0 + 10 });
      // The loser closes its connection and releases it: that must not end the winner's.
      await store.release('x', 'a', T0, T0 + 20);
      await store.release('y', 'a', T0, T0 + 20);
      assert.deepEqual(await store.lookup('x'), { node: 'b', connected: true, since: T0 + 10 });
      assert.deepEqual(await store.lookup('y'), { node: 'b', connected: true, since: T0 + 10 });
    });

    storeTest('a hold replaces an ended entry whatever its time', async ({ store }) => {
      await store.renewLease('a', LONG);
      await store.renewLease('b', LONG);
      await store.hold('dev', 'a', T0);
      await store.release('dev', 'a', T0, T0 + 100);
      await store.hold('dev', 'b', T0 + 50);
      assert.deepEqual(await store.lookup('dev'), { node: 'b', connected: true, since: T0 + 50 });
    });

    storeTest('when a lease runs out its entries are disconnected since it ran out; renewing it again says so', async ({ store }) => {
      const before = Date.now();
      await store.renewLease('dying', SHORT);
      await store.renewLease('alive', LONG);
      await store.hold('d1', 'dying', T0);
      await store.hold('a1', 'alive', T0);
      assert.equal((await store.lookup('d1'))?.connected, true);
      await sleep(SHORT + 100);
      const ended = await store.lookup('d1');
      assert.equal(ended?.connected, false);
      assert.equal(ended?.node, 'dying');
      assert.ok(ended!.since >= before + SHORT - 50 && ended!.since <= Date.now() + 50, `ended at the lease's end, got ${ended?.since - before} ms after`);
      assert.deepEqual(await store.lookup('a1'), { node: 'alive', connected: true, since: T0 });
      assert.equal(await store.renewLease('dying', LONG), false, 'a lapsed lease renews as a new one: the node must hold again');
    });

    storeTest('a hold replaces a connected entry of a node whose lease ran out, even a newer one', async ({ store }) => {
      await store.renewLease('dead', SHORT);
      await store.renewLease('b', LONG);
      await store.hold('dev', 'dead', T0 + 1000);
      await sleep(SHORT + 100);
      await store.hold('dev', 'b', T0);
      assert.deepEqual(await store.lookup('dev'), { node: 'b', connected: true, since: T0 });
    });

    storeTest('sweep ends the entries of lapsed leases and forgets those leases; live ones stay', async ({ store }) => {
      await store.renewLease('dead', SHORT);
      await store.renewLease('live', LONG);
      await store.hold('d1', 'dead', T0);
      await store.hold('d2', 'dead', T0);
      await store.hold('d3', 'dead', T0);
      await store.release('d3', 'dead', T0, T0 + 1);
      await store.hold('l1', 'live', T0);
      await sleep(SHORT + 100);
      assert.equal(await store.sweep(), 2, 'two live entries of the dead node ended');
      assert.equal(await store.sweep(), 0);
      assert.equal((await store.lookup('d1'))?.connected, false);
      assert.deepEqual(await store.lookup('d3'), { node: 'dead', connected: false, since: T0 + 1 }, 'an ended entry keeps its end');
      assert.deepEqual(await store.lookup('l1'), { node: 'live', connected: true, since: T0 });
      assert.equal(await store.renewLease('dead', LONG), false);
      assert.equal((await store.lookup('d1'))?.connected, false, 'a revived lease does not revive swept entries');
    });

    storeTest('forget removes a device\'s entry and its modules\', not other devices\' (ids with LIKE wildcards included)', async ({ store }) => {
      await store.renewLease('a', LONG);
      for (const key of ['dev%', 'dev%/m1', 'dev%/m_2', 'dev%x', 'devX/m1', 'dev']) await store.hold(key, 'a', T0);
      await store.forget('dev%');
      for (const key of ['dev%', 'dev%/m1', 'dev%/m_2']) assert.equal(await store.lookup(key), undefined, key);
      for (const key of ['dev%x', 'devX/m1', 'dev']) assert.equal((await store.lookup(key))?.connected, true, key);
    });

    storeTest('endLease ends the node\'s entries at the given time and its lease', async ({ store }) => {
      await store.renewLease('a', LONG);
      await store.renewLease('b', LONG);
      await store.hold('a1', 'a', T0);
      await store.hold('b1', 'b', T0);
      await store.endLease('a', T0 + 7);
      assert.deepEqual(await store.lookup('a1'), { node: 'a', connected: false, since: T0 + 7 });
      assert.deepEqual(await store.lookup('b1'), { node: 'b', connected: true, since: T0 });
      assert.equal(await store.renewLease('a', LONG), false);
    });
  });
}
