import { LocalBus } from '../../src/fabric/local/local-bus.js';
import { messageBusContract } from './message-bus.contract.js';

// One process is one node: every "node" of the contract is the same LocalBus.
messageBusContract({
  name: 'local',
  async create(count) {
    const bus = new LocalBus();
    return {
      nodes: Array.from({ length: count }, () => bus),
      settle: () => new Promise((resolve) => setImmediate(resolve)),
      destroy: () => bus.close(),
    };
  },
});
