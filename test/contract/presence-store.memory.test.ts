import { MemoryPresenceStore } from '../../src/storage/memory/memory-presence-store.js';
import { presenceStoreContract } from './presence-store.contract.js';

presenceStoreContract({
  name: 'memory',
  async create() {
    const store = new MemoryPresenceStore();
    return { store, destroy: () => store.close() };
  },
});
