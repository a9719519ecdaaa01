import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TwinRecord } from '../../src/domain/twin.js';
import { ABSENT } from '../../src/ports/twin-store.js';
import { PostgresTwinStore } from '../../src/storage/postgres/postgres-twin-store.js';
import { postgresHarness, testSchema, withPostgres } from '../support/postgres.js';
import { twinStoreContract } from './twin-store.contract.js';

await withPostgres('TwinStore contract: postgres', () => {
  twinStoreContract(postgresHarness((db) => new PostgresTwinStore(db)));

  describe('PostgresTwinStore query columns', () => {
    const record: TwinRecord = {
      deviceId: 'dev',
      version: 1,
      tags: { z: 1, a: { nul: 'a\u0000b', lone: 'x\ud800', literal: '\\u0000 and \\\ud800', pair: '😀' } },
      desired: { properties: { interval: 30 }, version: 2, metadata: { $lastUpdated: '2025-01-02T03:04:05.678Z' } },
      reported: { properties: { fw: { version: '1.2.3' } }, version: 3, metadata: {} },
    };

    test('hold jsonb copies of tags and properties; only what jsonb refuses becomes U+FFFD; GIN serves containment', async () => {
      const schema = testSchema();
      const db = await schema.open();
      try {
        const store = new PostgresTwinStore(db);
        await store.put(record, ABSENT);
        assert.deepEqual(await store.get({ deviceId: 'dev' }), record, 'the document itself is exact');
        const { rows } = await db.query('SELECT tags_query, desired_query, reported_query FROM twins');
        assert.deepEqual(rows, [
          {
            tags_query: { z: 1, a: { nul: 'a\ufffdb', lone: 'x\ufffd', literal: '\\u0000 and \\\ufffd', pair: '😀' } },
            desired_query: { interval: 30 },
            reported_query: { fw: { version: '1.2.3' } },
          },
        ]);
        const replaced = { ...record, version: 2, reported: { ...record.reported, properties: { fw: { version: '2.0.0' } } } };
        await store.put(replaced, 1);
        const plan = await db.transaction(async (tx) => {
          await tx.query('SET LOCAL enable_seqscan = off');
          const matches = await tx.query(`SELECT device_id FROM twins WHERE reported_query @> '{"fw": {"version": "2.0.0"}}'`);
          const explained = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT device_id FROM twins WHERE tags_query @> '{"z": 1}'`);
          return { matches: matches.rows, explained: explained.rows.map((r) => r['QUERY PLAN']).join('\n') };
        });
        assert.deepEqual(plan.matches, [{ device_id: 'dev' }], 'a replace updates the query columns too');
        assert.match(plan.explained, /twins_tags_query/);
      } finally {
        await db.close();
        await schema.drop();
      }
    });
  });
});
