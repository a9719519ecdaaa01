import { PostgresMqttSessionStore } from '../../src/storage/postgres/postgres-mqtt-session-store.js';
import { postgresHarness, withPostgres } from '../support/postgres.js';
import { mqttSessionStoreContract } from './mqtt-session-store.contract.js';

await withPostgres('MqttSessionStore contract: postgres', () => {
  mqttSessionStoreContract(postgresHarness((db) => new PostgresMqttSessionStore(db)));
});
