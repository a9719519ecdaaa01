import { PostgresRegistryStore } from '../../src/storage/postgres/postgres-registry-store.js';
import { postgresHarness, withPostgres } from '../support/postgres.js';
import { registryStoreContract } from './registry-store.contract.js';

await withPostgres('RegistryStore contract: postgres', () => {
  registryStoreContract(postgresHarness((db) => new PostgresRegistryStore(db)));
});
