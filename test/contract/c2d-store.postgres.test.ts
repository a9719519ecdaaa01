import { PostgresC2dStore } from '../../src/storage/postgres/postgres-c2d-store.js';
import { postgresHarness, withPostgres } from '../support/postgres.js';
import { c2dStoreContract } from './c2d-store.contract.js';

await withPostgres('C2dStore contract: postgres', () => {
  c2dStoreContract(postgresHarness((db) => new PostgresC2dStore(db)));
});
