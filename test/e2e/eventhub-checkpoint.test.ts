import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import { ContainerClient } from '@azure/storage-blob';
import { createSasToken } from '../../src/domain/sas.js';
import { startAzuriteBlob, type Azurite } from '../support/azurite.js';
import { startHubProcess, type HubProcess } from '../support/hub-process.js';
import { rawRequest } from '../support/https-client.js';
import { seededDataDir } from '../support/test-ca.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';

const EPHEMERAL = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--bind', '127.0.0.1'];

/**
 * A consumer with a real checkpoint store (BlobCheckpointStore on Azurite) resumes where it stopped, across a
 * restart of the consumer and of the hub: the offsets the hub hands out stay valid start positions.
 */
describe('EventHubConsumerClient with a blob checkpoint store', () => {
  const dataDir = seededDataDir();
  let hub: HubProcess;
  let azurite: Azurite;
  let container: ContainerClient;
  let deviceKey = '';

  before(async () => {
    [hub, azurite] = await Promise.all([startHubProcess(dataDir, EPHEMERAL), startAzuriteBlob()]);
    container = new ContainerClient(azurite.connectionString, 'checkpoints');
    await container.create();
    const owner = policy('iothubowner');
    const token = createSasToken({ resource: 'localhost', keyBase64: owner.primaryKey, keyName: owner.name, expiry: Date.now() / 1000 + 600, encode: false });
    const res = await rawRequest({ port: hub.settings.ports.https, ca: hub.ca, method: 'PUT', path: '/devices/ckpt?api-version=2021-04-12', headers: { authorization: token, 'content-type': 'application/json' }, body: '{}' });
    deviceKey = res.json().authentication.symmetricKey.primaryKey;
  });
  after(async () => {
    await Promise.all([hub?.stop(), azurite?.stop()]);
  });

  function policy(name: string): SharedAccessPolicy {
    const policies = JSON.parse(readFileSync(join(dataDir, 'policies.json'), 'utf8')) as SharedAccessPolicy[];
    return policies.find((p) => p.name === name)!;
  }

  async function send(texts: string[]): Promise<void> {
    const token = createSasToken({ resource: 'localhost/devices/ckpt', keyBase64: deviceKey, expiry: Date.now() / 1000 + 600 });
    for (const text of texts) {
      const res = await rawRequest({ port: hub.settings.ports.https, ca: hub.ca, method: 'POST', path: '/devices/ckpt/messages/events?api-version=2021-04-12', headers: { authorization: token }, body: text });
      assert.equal(res.status, 204);
    }
  }

  /** Subscribes with the checkpoint store until `expected` events arrived, checkpointing each; returns their bodies. */
  async function consume(expected: number): Promise<string[]> {
    const owner = policy('iothubowner');
    const cs = `Endpoint=sb://localhost:${hub.settings.ports.amqp}/;SharedAccessKeyName=iothubowner;SharedAccessKey=${owner.primaryKey};EntityPath=${hub.settings.name}`;
    // Greedy balancing claims every partition at once; the default claims one per 10 s cycle, which made the
    // test wait on the load balancer rather than on the hub.
    const consumer = new EventHubConsumerClient('$Default', cs, new BlobCheckpointStore(container), {
      loadBalancingOptions: { strategy: 'greedy', updateIntervalInMs: 1000 },
    });
    const bodies: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${bodies.length} of ${expected}: ${bodies.join(',')}`)), 30_000);
        consumer.subscribe(
          {
            processEvents: async (events: ReceivedEventData[], context) => {
              for (const e of events) bodies.push(Buffer.isBuffer(e.body) ? e.body.toString('utf8') : JSON.stringify(e.body));
              const last = events[events.length - 1];
              if (last) await context.updateCheckpoint(last);
              if (bodies.length >= expected) {
                clearTimeout(timer);
                setTimeout(resolve, 1500); // anything beyond `expected` would arrive now and fail the test
              }
            },
            processError: async (err) => reject(err),
          },
          { maxWaitTimeInSeconds: 1, startPosition: earliestEventPosition },
        );
      });
    } finally {
      await consumer.close();
    }
    return bodies;
  }

  test('a restarted consumer resumes after its checkpoint, also after a hub restart', async () => {
    await send(['a1', 'a2', 'a3']);
    assert.deepEqual(await consume(3), ['a1', 'a2', 'a3']);

    await send(['b1', 'b2']);
    assert.deepEqual(await consume(2), ['b1', 'b2'], 'a new consumer starts after the checkpoint');

    assert.equal(await hub.stop(), 0);
    hub = await startHubProcess(dataDir, EPHEMERAL);
    await send(['c1']);
    assert.deepEqual(await consume(1), ['c1'], 'checkpointed offsets survive a hub restart');
  });
});
