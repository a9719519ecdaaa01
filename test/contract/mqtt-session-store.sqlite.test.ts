import { SqliteMqttSessionStore } from '../../src/storage/sqlite/sqlite-mqtt-session-store.js';
import { sqliteHarness } from '../support/sqlite.js';
import { mqttSessionStoreContract } from './mqtt-session-store.contract.js';

mqttSessionStoreContract(sqliteHarness((db) => new SqliteMqttSessionStore(db)));
