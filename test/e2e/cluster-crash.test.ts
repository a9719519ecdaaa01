// kill -9 of one node of a two-node cluster (PostgreSQL + NATS JetStream) under MQTT load: every message the killed
// node acknowledged is readable through the surviving node, once, in order per device; and the devices can
// reconnect to the survivor and go on sending.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import mqtt from 'mqtt';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { createSasToken } from '../../src/domain/sas.js';
import type { HubProcess } from '../support/hub-process.js';
import { rawRequest } from '../support/https-client.js';
import { runMqttLoad, type LoadDevice } from '../support/mqtt-load.js';
import { scaleOutMissing, scaleOutUnavailable, startCluster, type Cluster } from '../support/cluster.js';

const API = '?api-version=2021-04-12';
const DEVICES = 20;
const PAYLOAD_BYTES = 64;
const KILL_AFTER_MS = 1500;

const why = await scaleOutUnavailable();
/** `<device>:<sequence>:` then filler: what the load sends and what the read-back parses. */
function payloadOf(device: number, sequence: number): Buffer {
  const head = Buffer.from(`${device}:${sequence}:`);
  const out = Buffer.alloc(Math.max(PAYLOAD_BYTES, head.length), 0x61);
  head.copy(out);
  return out;
}

interface ReadEvent {
  device: number;
  sequence: number;
  deviceId: unknown;
}

describe('kill -9 of a cluster node under load', { concurrency: false }, () => {
  if (why !== undefined) return scaleOutMissing(why);

  let cluster: Cluster;
  let a: HubProcess;
  let b: HubProcess;
  let hubName: string;
  let owner: SharedAccessPolicy;

  const serviceToken = () => cluster.serviceToken();
  const deviceId = (i: number) => `cc-${i}`;

  before(async () => {
    cluster = await startCluster(2, 'cluster-crash');
    [a, b] = cluster.nodes as [HubProcess, HubProcess];
    ({ hubName, owner } = cluster);
  });

  after(async () => cluster?.destroy());

  /**
   * Everything in every partition, read through node A's Event Hub-compatible endpoint up to each partition's last
   * sequence number as A reports it when the read starts; in partition order.
   */
  async function readEverythingThroughA(): Promise<ReadEvent[][]> {
    const cs = `Endpoint=sb://localhost:${a.settings.ports.amqp}/;SharedAccessKeyName=iothubowner;SharedAccessKey=${owner.primaryKey};EntityPath=${hubName}`;
    const consumer = new EventHubConsumerClient('$Default', cs);
    try {
      const ids = await consumer.getPartitionIds();
      const last = new Map<string, number>();
      for (const id of ids) {
        const props = await consumer.getPartitionProperties(id);
        last.set(id, props.isEmpty ? -1 : props.lastEnqueuedSequenceNumber);
      }
      const read = new Map<string, ReadEvent[]>(ids.map((id) => [id, []]));
      const reached = new Map<string, number>(ids.map((id) => [id, -1]));
      const done = () => ids.every((id) => reached.get(id)! >= last.get(id)!);
      if (!done()) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`the partitions were not read to their end within 20 s: ${ids.map((id) => `${id}: ${reached.get(id)}/${last.get(id)}`).join(', ')}`)),
            20_000,
          );
          const subscription = consumer.subscribe(
            {
              processEvents: async (events, context) => {
                const into = read.get(context.partitionId)!;
                for (const e of events) {
                  if (e.sequenceNumber > last.get(context.partitionId)!) continue;
                  const [device, sequence] = Buffer.from(e.body as Uint8Array).toString().split(':').map(Number) as [number, number];
                  into.push({ device, sequence, deviceId: e.systemProperties?.['iothub-connection-device-id'] });
                  reached.set(context.partitionId, Math.max(reached.get(context.partitionId)!, e.sequenceNumber));
                }
                if (done()) {
                  clearTimeout(timer);
                  void subscription.close();
                  resolve();
                }
              },
              processError: async (err) => {
                clearTimeout(timer);
                reject(err);
              },
            },
            { startPosition: earliestEventPosition, maxBatchSize: 1000, maxWaitTimeInSeconds: 1 },
          );
        });
      }
      return ids.map((id) => read.get(id)!);
    } finally {
      await consumer.close();
    }
  }

  /** Per device, the sequences read, in log order; fails on an event whose annotation names another device. */
  function byDevice(partitions: ReadEvent[][]): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (const events of partitions) {
      for (const e of events) {
        assert.equal(e.deviceId, deviceId(e.device), `event ${e.device}:${e.sequence} carries the sending device's id`);
        const list = out.get(e.device) ?? [];
        list.push(e.sequence);
        out.set(e.device, list);
      }
    }
    return out;
  }

  const keys: string[] = [];
  const sent = new Set<string>();
  const acked = new Set<string>();
  let readBack: Map<number, number[]>;

  test('every message node B acknowledged before its kill -9 is read through node A once, in order per device', async () => {
    const devices: LoadDevice[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const key = randomBytes(32).toString('base64');
      keys.push(key);
      const res = await rawRequest({
        port: a.settings.ports.https,
        ca: a.ca,
        method: 'PUT',
        path: `/devices/${deviceId(i)}${API}`,
        headers: { authorization: serviceToken(), 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: deviceId(i), authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } } }),
      });
      assert.equal(res.status, 200, res.text);
      const password = createSasToken({ resource: `localhost/devices/${deviceId(i)}`, keyBase64: key, expiry: Date.now() / 1000 + 600 });
      devices.push({ clientId: deviceId(i), username: `localhost/${deviceId(i)}/${API}`, password, topic: `devices/${deviceId(i)}/messages/events/` });
    }

    // The clock starts at the first PUBACK: 1.5 s of real load, then SIGKILL.
    let killer: NodeJS.Timeout | undefined;
    let killed: Promise<void> | undefined;
    let ackedAtKill = -1;
    const load = await runMqttLoad({
      host: '127.0.0.1',
      port: b.settings.ports.mqtt,
      ca: b.ca,
      servername: 'localhost',
      devices,
      messagesPerDevice: Number.MAX_SAFE_INTEGER,
      maxDurationMs: 10_000,
      payloadBytes: PAYLOAD_BYTES,
      inflightPerDevice: 16,
      payload: (device, sequence) => {
        sent.add(`${device}:${sequence}`);
        return payloadOf(device, sequence);
      },
      onAck: (device, sequence) => {
        acked.add(`${device}:${sequence}`);
        killer ??= setTimeout(() => {
          ackedAtKill = acked.size;
          killed = b.kill();
        }, KILL_AFTER_MS);
      },
    });
    clearTimeout(killer);
    assert.ok(killed, `node B was killed during the load (it ended first after ${load.elapsedMs} ms: ${load.errors[0] ?? 'no error'})`);
    await killed;
    assert.equal(b.child.signalCode, 'SIGKILL');
    assert.equal(load.connected, DEVICES, `all devices connected: ${load.errors[0] ?? ''}`);
    assert.ok(acked.size > 1000, `the load was real: ${acked.size} acknowledged before the kill`);
    // PUBACKs that were on the wire when the kill landed may still count: at most one window per device.
    assert.ok(acked.size <= ackedAtKill + DEVICES * 16, `${acked.size} acknowledged, ${ackedAtKill} at the kill`);
    console.log(`cluster-crash: ${sent.size} sent, ${acked.size} acknowledged by node B before the kill`);

    readBack = byDevice(await readEverythingThroughA());
    const stored = new Set<string>();
    const duplicates: string[] = [];
    for (const [device, sequences] of readBack) {
      for (const s of sequences) {
        const id = `${device}:${s}`;
        if (stored.has(id)) duplicates.push(id);
        stored.add(id);
      }
    }
    assert.deepEqual(duplicates, [], 'no message is stored twice');
    const missing = [...acked].filter((id) => !stored.has(id));
    assert.deepEqual(missing, [], `every acknowledged message is read back (${missing.length} of ${acked.size} missing)`);
    const unsent = [...stored].filter((id) => !sent.has(id));
    assert.deepEqual(unsent, [], 'nothing is read back that the devices did not send');
    for (const [device, sequences] of readBack) {
      const sorted = [...sequences].sort((x, y) => x - y);
      assert.deepEqual(sequences, sorted, `device ${device}'s messages are in the order it sent them`);
    }
    console.log(`cluster-crash: ${stored.size} read back through node A (${stored.size - acked.size} stored but not acknowledged)`);
  });

  test('a device of the killed node reconnects to node A and its messages are acknowledged and stored', async () => {
    assert.ok(readBack, 'the crash test ran');
    const device = 0;
    const earlier = readBack.get(device) ?? [];
    const next = Math.max(-1, ...earlier) + 1;
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${a.settings.ports.mqtt}`, {
      clientId: deviceId(device),
      username: `localhost/${deviceId(device)}/${API}`,
      password: createSasToken({ resource: `localhost/devices/${deviceId(device)}`, keyBase64: keys[device]!, expiry: Date.now() / 1000 + 600 }),
      ca: a.ca,
      servername: 'localhost',
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    const fresh = [0, 1, 2, 3, 4].map((k) => next + k);
    try {
      for (const s of fresh) {
        // At QoS 1 this resolves on the PUBACK; a connection closed first rejects it.
        await client.publishAsync(`devices/${deviceId(device)}/messages/events/`, payloadOf(device, s), { qos: 1 });
      }
    } finally {
      await client.endAsync();
    }
    const later = byDevice(await readEverythingThroughA()).get(device) ?? [];
    assert.deepEqual(later, [...earlier, ...fresh], 'the log holds what it held, then exactly the new messages');
  });
});
