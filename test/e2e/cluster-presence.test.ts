// Presence leases across nodes: a node that stops answering (frozen with SIGSTOP: its NATS connection stays open, it
// just stops renewing) still counts as holding its devices until its lease runs out, then not; when it wakes it
// holds them again. A node killed outright is noticed by the bus at once, without waiting for the lease.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { createSasToken } from '../../src/domain/sas.js';
import type { HubProcess } from '../support/hub-process.js';
import { scaleOutMissing, scaleOutUnavailable, startCluster, type Cluster } from '../support/cluster.js';

const LEASE_MS = 3000;
const why = await scaleOutUnavailable();

describe('presence leases across nodes', { concurrency: false }, () => {
  if (why !== undefined) return scaleOutMissing(why);

  let cluster: Cluster;
  let a: HubProcess;
  let b: HubProcess;
  let device: mqtt.MqttClient | undefined;

  const rest = (node: HubProcess, method: string, path: string, body?: unknown) => cluster.rest(node, method, path, body);
  const stateSeenByA = async (): Promise<{ connectionState: string; connectionStateUpdatedTime: string }> => (await rest(a, 'GET', '/devices/sleeper')).json();
  /** Polls node A until the device's state is `state`; returns when A first said so. */
  const waitForState = async (state: string, withinMs: number): Promise<{ at: number; view: { connectionStateUpdatedTime: string } }> => {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const view = await stateSeenByA();
      if (view.connectionState === state) return { at: Date.now(), view };
      if (Date.now() > deadline) assert.fail(`node A did not report ${state} within ${withinMs} ms (last: ${JSON.stringify(view)})`);
      await sleep(100);
    }
  };

  before(async () => {
    cluster = await startCluster(2, 'presence', ['--presence-lease-seconds', String(LEASE_MS / 1000)]);
    [a, b] = cluster.nodes as [HubProcess, HubProcess];
    const created = await rest(a, 'PUT', '/devices/sleeper', { deviceId: 'sleeper' });
    assert.equal(created.status, 200, created.text);
    const key = created.json().authentication.symmetricKey.primaryKey as string;
    device = await mqtt.connectAsync(`mqtts://127.0.0.1:${b.settings.ports.mqtt}`, {
      clientId: 'sleeper',
      username: 'localhost/sleeper/?api-version=2021-04-12',
      password: createSasToken({ resource: 'localhost/devices/sleeper', keyBase64: key, expiry: Date.now() / 1000 + 600 }),
      ca: b.ca,
      servername: 'localhost',
      protocolVersion: 4,
      reconnectPeriod: 0,
      // No pings: the device's connection must outlive B's freeze untouched.
      keepalive: 0,
    });
  });

  after(async () => {
    b?.child.kill('SIGCONT');
    device?.end(true);
    await cluster?.destroy();
  });

  test('a frozen node holds its devices until its lease runs out, and again when it wakes', async () => {
    assert.equal((await stateSeenByA()).connectionState, 'Connected');
    const frozenAt = Date.now();
    b.child.kill('SIGSTOP');
    try {
      // B cannot answer, but its lease is still good: A takes the lease at its word.
      assert.equal((await stateSeenByA()).connectionState, 'Connected', 'within the lease');
      const { at, view } = await waitForState('Disconnected', LEASE_MS + 3000);
      const renewEvery = LEASE_MS / 3;
      assert.ok(at - frozenAt >= LEASE_MS - renewEvery - 200, `not before the lease could have run out (${at - frozenAt} ms after the freeze)`);
      const endedAt = Date.parse(view.connectionStateUpdatedTime);
      assert.ok(endedAt >= frozenAt - 200 && endedAt <= at, `disconnected at the lease's end: ${view.connectionStateUpdatedTime}`);
    } finally {
      b.child.kill('SIGCONT');
    }
    // B wakes, finds its lease lapsed, and records what it holds again; the device never noticed.
    await waitForState('Connected', LEASE_MS + 2000);
    assert.equal(device!.connected, true);
  });

  test('a killed node\'s devices are disconnected at once, without waiting for the lease', async () => {
    assert.equal((await stateSeenByA()).connectionState, 'Connected');
    const killedAt = Date.now();
    await b.kill();
    const { at } = await waitForState('Disconnected', LEASE_MS);
    assert.ok(at - killedAt < LEASE_MS / 2, `noticed ${at - killedAt} ms after the kill`);
  });
});
