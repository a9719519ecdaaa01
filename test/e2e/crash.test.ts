import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { createSasToken } from '../../src/domain/sas.js';
import { startHubProcess, type HubProcess } from '../support/hub-process.js';
import { rawRequest } from '../support/https-client.js';
import { runMqttLoad, type LoadDevice } from '../support/mqtt-load.js';
import { seededDataDir } from '../support/test-ca.js';

const EPHEMERAL = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--bind', '127.0.0.1'];
const DEVICES = 20;

/** Nothing acknowledged is ever lost: kill -9 the hub under MQTT load, restart it, read everything back. */
describe('kill -9 of the hub under load', () => {
  const dataDir = seededDataDir();
  let hub: HubProcess | undefined;
  after(async () => {
    await hub?.stop();
  });

  const owner = (): SharedAccessPolicy => (JSON.parse(readFileSync(join(dataDir, 'policies.json'), 'utf8')) as SharedAccessPolicy[]).find((p) => p.name === 'iothubowner')!;

  test('every PUBACKed message is readable after the restart, in order per device', async () => {
    hub = await startHubProcess(dataDir, EPHEMERAL);
    const running = hub;
    const token = createSasToken({ resource: 'localhost', keyBase64: owner().primaryKey, keyName: 'iothubowner', expiry: Date.now() / 1000 + 600, encode: false });
    const devices: LoadDevice[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const key = randomBytes(32).toString('base64');
      const body = JSON.stringify({ authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } } });
      const res = await rawRequest({ port: running.settings.ports.https, ca: running.ca, method: 'PUT', path: `/devices/crash-${i}?api-version=2021-04-12`, headers: { authorization: token, 'content-type': 'application/json' }, body });
      assert.equal(res.status, 200, res.text);
      const password = createSasToken({ resource: `localhost/devices/crash-${i}`, keyBase64: key, expiry: Date.now() / 1000 + 600 });
      devices.push({ clientId: `crash-${i}`, username: `localhost/crash-${i}/?api-version=2021-04-12`, password, topic: `devices/crash-${i}/messages/events/` });
    }

    const acked = new Set<string>();
    const killer = setTimeout(() => running.child.kill('SIGKILL'), 1500);
    const load = await runMqttLoad({
      host: '127.0.0.1',
      port: running.settings.ports.mqtt,
      ca: running.ca,
      servername: 'localhost',
      devices,
      messagesPerDevice: Number.MAX_SAFE_INTEGER,
      maxDurationMs: 10_000,
      payloadBytes: 64,
      inflightPerDevice: 16,
      onAck: (device, sequence) => acked.add(`${device}:${sequence}`),
    });
    clearTimeout(killer);
    assert.ok(load.connected === DEVICES, `all devices connected: ${load.errors[0] ?? ''}`);
    assert.ok(acked.size > 1000, `the load was real: ${acked.size} acknowledged before the kill`);

    hub = await startHubProcess(dataDir, EPHEMERAL);
    const cs = `Endpoint=sb://localhost:${hub.settings.ports.amqp}/;SharedAccessKeyName=iothubowner;SharedAccessKey=${owner().primaryKey};EntityPath=${hub.settings.name}`;
    const consumer = new EventHubConsumerClient('$Default', cs);
    const stored = new Map<number, number[]>();
    let missing = acked.size;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${missing} acknowledged messages not found`)), 60_000);
        consumer.subscribe(
          {
            processEvents: async (events) => {
              for (const e of events) {
                const [device, sequence] = Buffer.from(e.body as Uint8Array).toString().split(':').map(Number) as [number, number];
                stored.set(device, [...(stored.get(device) ?? []), sequence]);
                if (acked.has(`${device}:${sequence}`)) missing--;
              }
              if (missing === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
            processError: async (err) => reject(err),
          },
          { startPosition: earliestEventPosition, maxBatchSize: 1000, maxWaitTimeInSeconds: 1 },
        );
      });
    } finally {
      await consumer.close();
    }
    for (const [device, sequences] of stored) {
      const sorted = [...sequences].sort((a, b) => a - b);
      assert.deepEqual(sequences, sorted, `device ${device}'s messages are in the order it sent them`);
    }
  });
});
