import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { feedbackRecordsOf, type C2dMessage, type NewC2dMessage } from '../../src/domain/c2d.js';
import { isHubError } from '../../src/domain/errors.js';
import type { DeviceRecord } from '../../src/domain/identity.js';
import type { TwinRecord } from '../../src/domain/twin.js';
import { QUEUE_FULL, type LockRequest } from '../../src/ports/c2d-store.js';
import { ABSENT } from '../../src/ports/twin-store.js';
import type { PostgresDatabase } from '../../src/storage/postgres/database.js';
import { postgresMigrations } from '../../src/storage/postgres/migrations.js';
import { PostgresC2dStore } from '../../src/storage/postgres/postgres-c2d-store.js';
import { PostgresRegistryStore } from '../../src/storage/postgres/postgres-registry-store.js';
import { PostgresTwinStore } from '../../src/storage/postgres/postgres-twin-store.js';
import { testSchema, withPostgres } from '../support/postgres.js';

// What only a shared database has: several nodes (each a pool of its own, with its own store instances) working on
// the same rows at once. Rounds repeat each race, so a store that is only right by luck of timing fails.

const T0 = Date.parse('2025-01-02T03:04:05.678Z');
const ROUNDS = 20;
const DEVICE = { deviceId: 'dev' };

/** Runs `body` with `count` nodes on one fresh schema, then closes them and drops it. */
async function withNodes(count: number, body: (nodes: PostgresDatabase[]) => Promise<void>): Promise<void> {
  const schema = testSchema();
  const nodes: PostgresDatabase[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await schema.open());
    await body(nodes);
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
    await schema.drop();
  }
}

function message(id: string): NewC2dMessage {
  return {
    ...DEVICE,
    content: { body: Buffer.from(id), properties: { messageId: id }, applicationProperties: {} },
    ack: 'full',
    generationId: 'gen',
    enqueuedTime: T0,
    expiryTime: T0 + 3_600_000,
  };
}

function lockAt(now: number): LockRequest {
  return { token: randomUUID(), until: now + 60_000, now, maxDeliveryCount: 10 };
}

function device(deviceId: string): DeviceRecord {
  return {
    deviceId,
    generationId: 'gen',
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
  };
}

function twin(version: number, mark: string): TwinRecord {
  return {
    ...DEVICE,
    version,
    tags: { mark },
    desired: { properties: {}, version: 1, metadata: {} },
    reported: { properties: {}, version: 1, metadata: {} },
  };
}

/** The outcomes of racing writes: how many succeeded, and the failures, which must all be `errorCode` HubErrors. */
function tally(results: PromiseSettledResult<unknown>[], errorCode: string): number {
  for (const r of results) {
    if (r.status === 'rejected') assert.ok(isHubError(r.reason) && r.reason.errorCode === errorCode, `a ${errorCode}, got ${String(r.reason)}`);
  }
  return results.filter((r) => r.status === 'fulfilled').length;
}

await withPostgres('PostgreSQL stores shared by several nodes', () => {
  describe('PostgreSQL stores shared by several nodes', () => {
    test('two nodes settling or releasing the same C2D message: exactly one acts, one feedback record', async () => {
      await withNodes(2, async (nodes) => {
        const [a, b] = nodes.map((db) => new PostgresC2dStore(db)) as [PostgresC2dStore, PostgresC2dStore];
        for (let round = 0; round < ROUNDS; round++) {
          await a.enqueue(message(`m${round}`), 100);
          const lock = lockAt(T0);
          assert.ok((await a.lockNext(DEVICE, lock)).message);
          // Even rounds: both complete. Odd rounds: one completes while the other abandons.
          const results = await Promise.all([
            a.settle(DEVICE, lock.token, T0 + 1, 'Success'),
            round % 2 === 0 ? b.settle(DEVICE, lock.token, T0 + 1, 'Success') : b.release(DEVICE, lock.token, T0 + 1),
          ]);
          assert.equal(results.filter((r) => r !== undefined).length, 1, `round ${round}: ${JSON.stringify(results)}`);
          // A release that won left the message visible: settle it, so each round ends with an empty queue.
          if (round % 2 === 1 && results[1] !== undefined) {
            const again = lockAt(T0 + 2);
            assert.equal((await a.lockNext(DEVICE, again)).message?.deliveryCount, 2);
            assert.ok(await a.settle(DEVICE, again.token, T0 + 2, 'Success'));
          }
        }
        assert.equal(await a.count(DEVICE, T0), 0);
        assert.equal(await b.pendingFeedbackCount(), ROUNDS);
      });
    });

    test('two nodes calling lockNext on one queue at once never lock the same message', async () => {
      await withNodes(2, async (nodes) => {
        const [a, b] = nodes.map((db) => new PostgresC2dStore(db)) as [PostgresC2dStore, PostgresC2dStore];
        for (let i = 0; i < 60; i++) await a.enqueue(message(`m${i}`), 100);
        const taken = await Promise.all([a, b].flatMap((store) => Array.from({ length: 40 }, () => store.lockNext(DEVICE, lockAt(T0)))));
        const sequenceNumbers = taken.flatMap((t) => (t.message === undefined ? [] : [t.message.sequenceNumber]));
        assert.equal(sequenceNumbers.length, 60, 'every message was locked once, and 20 calls found none');
        assert.deepEqual([...sequenceNumbers].sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i + 1));
        assert.ok(taken.every((t) => t.deadLettered.length === 0));
      });
    });

    test('two nodes enqueueing to one queue at once: maxDepth holds and sequence numbers are unique', async () => {
      await withNodes(2, async (nodes) => {
        const [a, b] = nodes.map((db) => new PostgresC2dStore(db)) as [PostgresC2dStore, PostgresC2dStore];
        const results = await Promise.all([a, b].flatMap((store, n) => Array.from({ length: 15 }, (_, i) => store.enqueue(message(`${n}-${i}`), 12))));
        const admitted = results.filter((r): r is C2dMessage => r !== QUEUE_FULL);
        assert.deepEqual(admitted.map((m) => m.sequenceNumber).sort((x, y) => x - y), Array.from({ length: 12 }, (_, i) => i + 1));
        assert.equal(await a.count(DEVICE, T0), 12);
      });
    });

    test('two nodes sealing and locking feedback at once: every record in exactly one batch, no batch locked twice', async () => {
      await withNodes(2, async (nodes) => {
        const [a, b] = nodes.map((db) => new PostgresC2dStore(db)) as [PostgresC2dStore, PostgresC2dStore];
        for (let i = 0; i < 50; i++) await a.enqueue(message(`m${i}`), 100);
        assert.equal(await a.purge(DEVICE, T0), 50);
        const seal = async (store: PostgresC2dStore) => {
          let sealed = 0;
          for (let count = await store.sealFeedback(randomUUID(), 7, T0); count > 0; count = await store.sealFeedback(randomUUID(), 7, T0)) sealed += count;
          return sealed;
        };
        const sealed = await Promise.all([seal(a), seal(b), seal(a), seal(b)]);
        assert.equal(sealed.reduce((sum, n) => sum + n, 0), 50);
        const locked = await Promise.all([a, b].flatMap((store) => Array.from({ length: 8 }, () => store.lockNextFeedback(lockAt(T0)))));
        const batchIds = locked.flatMap((batch) => (batch === undefined ? [] : [batch.batchId]));
        assert.equal(batchIds.length, 8, '50 records in batches of at most 7 make at least 8 batches');
        assert.equal(new Set(batchIds).size, batchIds.length);
        const records = locked.flatMap((batch) => (batch === undefined ? [] : feedbackRecordsOf(batch)));
        assert.deepEqual(records.map((r) => r.originalMessageId).sort(), Array.from({ length: 50 }, (_, i) => `m${i}`).sort(), 'every record in exactly one batch');
      });
    });

    test('etag-guarded registry updates racing from two nodes: exactly one wins each round', async () => {
      await withNodes(2, async (nodes) => {
        const [a, b] = nodes.map((db) => new PostgresRegistryStore(db)) as [PostgresRegistryStore, PostgresRegistryStore];
        assert.equal(tally(await Promise.allSettled([a.createDevice(device('d')), b.createDevice(device('d'))]), 'DeviceAlreadyExists'), 1);
        for (let version = 1; version <= ROUNDS; version++) {
          const racing = [a, b].map((store, n) => store.updateDevice({ ...device('d'), statusReason: `node ${n}` }, version));
          assert.equal(tally(await Promise.allSettled(racing), 'PreconditionFailed'), 1, `round ${version}`);
        }
        assert.equal((await b.getDevice('d'))?.version, ROUNDS + 1);
      });
    });

    test('twin compare-and-swap puts racing from two nodes: exactly one wins each round', async () => {
      await withNodes(2, async (nodes) => {
        const [a, b] = nodes.map((db) => new PostgresTwinStore(db)) as [PostgresTwinStore, PostgresTwinStore];
        const created = await Promise.allSettled([a.put(twin(1, 'a'), ABSENT), b.put(twin(1, 'b'), ABSENT)]);
        assert.equal(tally(created, 'PreconditionFailed'), 1);
        let winner = '';
        for (let version = 1; version <= ROUNDS; version++) {
          const marks = [`a${version}`, `b${version}`];
          const results = await Promise.allSettled([a.put(twin(version + 1, marks[0]!), version), b.put(twin(version + 1, marks[1]!), version)]);
          assert.equal(tally(results, 'PreconditionFailed'), 1, `round ${version}`);
          winner = marks[results.findIndex((r) => r.status === 'fulfilled')]!;
        }
        assert.deepEqual(await a.get(DEVICE), twin(ROUNDS + 1, winner));
      });
    });

    test('migrations run from 3 nodes at once on a fresh schema apply exactly once', async () => {
      for (let round = 0; round < 3; round++) {
        const schema = testSchema();
        const opened = await Promise.allSettled([schema.open(), schema.open(), schema.open()]);
        const nodes = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        try {
          assert.deepEqual(opened.filter((o) => o.status === 'rejected'), []);
          const { rows } = await nodes[0]!.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
          assert.deepEqual(rows, postgresMigrations.map(({ version, name }) => ({ version, name })));
          // Each node works on the schema it migrated.
          await new PostgresRegistryStore(nodes[1]!).createDevice(device('d'));
          assert.equal((await new PostgresRegistryStore(nodes[2]!).countDevices()).total, 1);
        } finally {
          await Promise.all(nodes.map((node) => node.close()));
          await schema.drop();
        }
      }
    });
  });
});
