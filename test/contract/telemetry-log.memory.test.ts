import { MemoryTelemetryLog } from '../../src/storage/memory/memory-telemetry-log.js';
import { telemetryLogContract } from './telemetry-log.contract.js';

telemetryLogContract({
  name: 'memory',
  async create({ partitionCount, retention, now }) {
    const log = new MemoryTelemetryLog(partitionCount, { retention, now });
    return { log, destroy: () => log.close() };
  },
});
