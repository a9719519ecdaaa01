import { PostgresPresenceStore } from '../../src/storage/postgres/postgres-presence-store.js';
import { postgresHarness, withPostgres } from '../support/postgres.js';
import { presenceStoreContract } from './presence-store.contract.js';

await withPostgres('PresenceStore contract: postgres', () => {
  presenceStoreContract(postgresHarness((db) => new PostgresPresenceStore(db)));
});
