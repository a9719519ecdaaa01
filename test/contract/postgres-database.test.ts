import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PostgresDatabase } from '../../src/storage/postgres/database.js';
import { postgresMigrations } from '../../src/storage/postgres/migrations.js';
import { POSTGRES_URL, testSchema, withPostgres } from '../support/postgres.js';

await withPostgres('PostgresDatabase', () => {
  describe('PostgresDatabase', () => {
    test('a transaction that loses a deadlock runs again and both commit', async () => {
      const schema = testSchema();
      const db = await schema.open();
      try {
        await db.query('CREATE TABLE counters (id integer PRIMARY KEY, n integer NOT NULL)');
        await db.query('INSERT INTO counters VALUES (1, 0), (2, 0)');
        let attempts = 0;
        let bothHoldTheirFirstRow: () => void = () => {};
        const held = new Promise<void>((resolve) => {
          let count = 0;
          bothHoldTheirFirstRow = () => {
            if (++count === 2) resolve();
          };
        });
        // Each locks one row, waits until the other holds the other row, then wants it: a deadlock PostgreSQL breaks
        // by failing one of them.
        const crosswise = (first: number, second: number) =>
          db.transaction(async (tx) => {
            attempts++;
            await tx.query(`SET LOCAL deadlock_timeout = '20ms'`);
            await tx.query('UPDATE counters SET n = n + 1 WHERE id = $1', [first]);
            bothHoldTheirFirstRow();
            await held;
            await tx.query('UPDATE counters SET n = n + 1 WHERE id = $1', [second]);
          });
        await Promise.all([crosswise(1, 2), crosswise(2, 1)]);
        assert.equal(attempts, 3);
        const { rows } = await db.query('SELECT id, n FROM counters ORDER BY id');
        assert.deepEqual(rows, [{ id: 1, n: 2 }, { id: 2, n: 2 }]);
      } finally {
        await db.close();
        await schema.drop();
      }
    });

    test('a transaction rolls back when its body throws or asks to, and resolves what the body returned', async () => {
      const schema = testSchema();
      const db = await schema.open();
      try {
        await db.query('CREATE TABLE notes (note text)');
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO notes VALUES ('thrown')`);
            throw new Error('body failed');
          }),
          /body failed/,
        );
        const result = await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO notes VALUES ('rolled back')`);
          tx.rollback();
          return 'kept';
        });
        assert.equal(result, 'kept');
        await db.transaction(async (tx) => tx.query(`INSERT INTO notes VALUES ('committed')`));
        assert.deepEqual((await db.query('SELECT note FROM notes')).rows, [{ note: 'committed' }]);
      } finally {
        await db.close();
        await schema.drop();
      }
    });

    test('bigint columns come back as numbers', async () => {
      const schema = testSchema();
      const db = await schema.open();
      try {
        const { rows } = await db.query('SELECT $1::bigint AS big, count(*) AS n FROM schema_migrations', [Number.MAX_SAFE_INTEGER]);
        assert.deepEqual(rows, [{ big: Number.MAX_SAFE_INTEGER, n: postgresMigrations.length }]);
      } finally {
        await db.close();
        await schema.drop();
      }
    });

    test('a schema with versions this build does not know is refused; reopening a current one applies nothing', async () => {
      const schema = testSchema();
      const db = await schema.open();
      try {
        await schema.open().then((again) => again.close());
        const { rows } = await db.query('SELECT count(*)::integer AS n FROM schema_migrations');
        assert.deepEqual(rows, [{ n: postgresMigrations.length }]);
        await db.query(`INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')`);
        await assert.rejects(schema.open(), /schema versions this build does not know \(999\)/);
      } finally {
        await db.close();
        await schema.drop();
      }
    });

    test('schema names are checked, so they can go into SQL and connection options as they are', () => {
      for (const schema of ['Upper', 'a-b', 'x; DROP TABLE devices', '', '1st']) {
        assert.throws(() => new PostgresDatabase({ connectionString: POSTGRES_URL, schema }), TypeError, schema);
      }
    });
  });
});
