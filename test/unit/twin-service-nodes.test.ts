import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TwinService } from '../../src/core/twins/twin-service.js';
import { DISCONNECTED } from '../../src/core/registry/identity-view.js';
import { DEFAULT_TWIN_LIMITS } from '../../src/domain/twin-patch.js';
import { LocalBus } from '../../src/fabric/local/local-bus.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteTwinStore } from '../../src/storage/sqlite/sqlite-twin-store.js';
import type { RegistryStore } from '../../src/ports/registry-store.js';

// Two twin services on one store stand for two nodes: each remembers its own last write, and must notice the other's.
test('a node that remembers its last write still keeps what another node wrote since', async () => {
  const store = new SqliteTwinStore(openSqliteDatabase(':memory:'));
  const registry = {} as RegistryStore; // updateReported never reads the registry
  const node = () => new TwinService(store, registry, async () => DISCONNECTED, new LocalBus(), DEFAULT_TWIN_LIMITS, Date.now);
  const [a, b] = [node(), node()];
  const target = { deviceId: 'shared' };
  assert.equal(await a.updateReported(target, { fromA: 1 }), 2);
  assert.equal(await b.updateReported(target, { fromB: 1 }), 3);
  assert.equal(await a.updateReported(target, { fromA: 2 }), 4, 'A saw its remembered twin was stale and read it again');
  const twin = await b.deviceTwin(target);
  assert.deepEqual(twin.reported, { fromA: 2, fromB: 1, $version: 4 });
});
