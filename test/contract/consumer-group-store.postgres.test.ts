import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PostgresConsumerGroupStore } from '../../src/storage/postgres/postgres-consumer-group-store.js';
import { postgresHarness, testSchema, withPostgres } from '../support/postgres.js';
import { consumerGroupStoreContract } from './consumer-group-store.contract.js';

await withPostgres('ConsumerGroupStore contract: postgres', () => {
  // The port has no close(); the harness closes what it is given before it closes the pool.
  consumerGroupStoreContract(postgresHarness((db) => Object.assign(new PostgresConsumerGroupStore(db), { close: async () => {} })));

  describe('PostgresConsumerGroupStore case folding', () => {
    test('folds ASCII only, as SQLite NOCASE, and lookups agree with the unique index whatever the locale', async () => {
      const schema = testSchema();
      const db = await schema.open();
      try {
        const store = new PostgresConsumerGroupStore(db);
        assert.equal(await store.create('Ärger-A', '2025-01-01T00:00:00.000Z'), true);
        assert.equal(await store.exists('Ärger-a'), true);
        assert.equal(await store.exists('ärger-a'), false);
        assert.equal(await store.create('ärger-A', '2025-01-02T00:00:00.000Z'), true);
        assert.equal(await store.delete('ÄRGER-A'), true);
        assert.equal(await store.exists('Ärger-a'), false);
        assert.deepEqual(await store.list(), [{ name: 'ärger-A', createdAt: '2025-01-02T00:00:00.000Z' }]);
      } finally {
        await db.close();
        await schema.drop();
      }
    });
  });
});
