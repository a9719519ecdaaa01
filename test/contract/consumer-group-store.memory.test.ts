import { MemoryConsumerGroupStore } from '../../src/storage/memory/memory-consumer-group-store.js';
import { consumerGroupStoreContract } from './consumer-group-store.contract.js';

consumerGroupStoreContract({
  name: 'memory',
  async create() {
    return { store: new MemoryConsumerGroupStore(), async destroy() {} };
  },
});
