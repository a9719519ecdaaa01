// The d2c load against N hub nodes on PostgreSQL + NATS JetStream, devices spread round-robin over their MQTT ports.
import type { LoadDevice, MqttLoadResult } from '../../test/support/mqtt-load.js';
import { CpuMeter, type CpuMeasurement } from './cpu-meter.js';
import type { D2cLoadOptions } from './d2c-load.js';
import { registerMqttDevices } from './register-devices.js';
import { scaleOutBackendsUnavailable, startScaleOutNodes } from './scale-out-nodes.js';
import { runSpreadMqttLoad } from './spread-mqtt-load.js';

/** One measured d2c run, embedded or scale-out, with the CPU every process spent during it. */
export interface MeasuredRun {
  label: string;
  nodes: number;
  /** All nodes together. */
  result: MqttLoadResult;
  /** Messages acknowledged by each node, in node order (`node 1`…). */
  nodeAcked: number[];
  cpu: CpuMeasurement;
}

export async function scaleOutRun(nodeCount: number, deviceCount: number, o: D2cLoadOptions): Promise<MeasuredRun> {
  const why = await scaleOutBackendsUnavailable();
  if (why !== undefined) throw new Error(`--nodes needs PostgreSQL and NATS JetStream: ${why}`);
  const cluster = await startScaleOutNodes(nodeCount, ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--log-level', 'warn']);
  try {
    const [first] = cluster.nodes;
    const ids = Array.from({ length: deviceCount }, (_, i) => `d2c-${i}`);
    const devices: LoadDevice[] = (await registerMqttDevices(first!, ids)).map((c) => ({ ...c, topic: `devices/${c.clientId}/messages/events/` }));
    const meter = CpuMeter.start(cluster.nodes.map((n, i) => ({ label: `node ${i + 1}`, pid: n.child.pid! })));
    const spread = await runSpreadMqttLoad(
      cluster.nodes.map((n) => n.settings.ports.mqtt),
      first!.ca,
      devices,
      o,
    );
    const cpu = meter.stop();
    return {
      label: `scale-out: ${nodeCount} node${nodeCount === 1 ? '' : 's'}, PostgreSQL + JetStream`,
      nodes: nodeCount,
      result: spread.total,
      nodeAcked: spread.perNode.map((r) => r.acked),
      cpu,
    };
  } finally {
    await cluster.stop();
  }
}
