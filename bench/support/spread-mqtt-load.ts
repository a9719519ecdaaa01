// The d2c load spread over several hub nodes: device i connects to node i mod N, all from this one process.
import type { LoadDevice, MqttLoadResult } from '../../test/support/mqtt-load.js';
import { timedLoad, type D2cLoadOptions } from './d2c-load.js';

export interface SpreadLoadResult {
  /** All nodes together; elapsedMs spans the first node's load starting to the last one's ending. */
  total: MqttLoadResult;
  /** One result per port, in the order of `ports`. */
  perNode: MqttLoadResult[];
}

export async function runSpreadMqttLoad(ports: readonly number[], ca: string, devices: readonly LoadDevice[], o: D2cLoadOptions): Promise<SpreadLoadResult> {
  const shares = ports.map((_, n) => devices.filter((_, i) => i % ports.length === n));
  const runs = await Promise.all(
    shares.map(async (share, n) => {
      const result = await timedLoad(ports[n]!, ca, share, o);
      return { result, endedAt: performance.now() };
    }),
  );
  const startedAt = Math.min(...runs.map((r) => r.endedAt - r.result.elapsedMs));
  const endedAt = Math.max(...runs.map((r) => r.endedAt));
  const perNode = runs.map((r) => r.result);
  return {
    perNode,
    total: {
      connected: sum(perNode.map((r) => r.connected)),
      acked: sum(perNode.map((r) => r.acked)),
      errors: perNode.flatMap((r) => r.errors),
      elapsedMs: endedAt - startedAt,
      latencies: perNode.flatMap((r) => r.latencies),
    },
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
