import { MemoryMqttSessionStore } from '../../src/storage/memory/memory-mqtt-session-store.js';
import { mqttSessionStoreContract } from './mqtt-session-store.contract.js';

mqttSessionStoreContract({
  name: 'memory',
  async create() {
    const store = new MemoryMqttSessionStore();
    return { store, destroy: () => store.close() };
  },
});
