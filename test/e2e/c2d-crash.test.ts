import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import rhea, { type Delivery, type EventContext } from 'rhea';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { createSasToken } from '../../src/domain/sas.js';
import { once, openRaw, putToken } from '../support/amqp-test-client.js';
import { startHubProcess, type HubProcess } from '../support/hub-process.js';
import { rawRequest } from '../support/https-client.js';
import { seededDataDir } from '../support/test-ca.js';

const ARGS = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--bind', '127.0.0.1', '--c2d-max-queue-depth', '100000', '--c2d-lock-seconds', '1'];
const API = '?api-version=2021-04-12';
const DEVICES = ['c2d-crash-0', 'c2d-crash-1', 'c2d-crash-2', 'c2d-crash-3'];
const LOCKED = 'c2d-crash-locked';
const IN_FLIGHT = 200;
const LOAD_MS = 1000;

interface DeviceResponse {
  status: number;
  messageId: string;
  lockToken: string;
  deliveryCount: string;
  text: string;
}

/** Device-side HTTPS over a keep-alive agent: the drain makes two requests per message, thousands of them. */
function deviceRequest(agent: Agent, hub: HubProcess, method: string, path: string, token: string): Promise<DeviceResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port: hub.settings.ports.https, ca: hub.ca, method, path, headers: { authorization: token }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          messageId: String(res.headers['iothub-messageid'] ?? ''),
          lockToken: String(res.headers.etag ?? '').slice(1, -1),
          deliveryCount: String(res.headers['iothub-deliverycount'] ?? ''),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Completes everything queued for the device, in the order the hub hands it out. */
async function drain(agent: Agent, hub: HubProcess, deviceId: string, token: string): Promise<DeviceResponse[]> {
  const taken: DeviceResponse[] = [];
  for (;;) {
    const got = await deviceRequest(agent, hub, 'GET', `/devices/${deviceId}/messages/devicebound${API}`, token);
    if (got.status === 204) return taken;
    assert.equal(got.status, 200, got.text);
    taken.push(got);
    const done = await deviceRequest(agent, hub, 'DELETE', `/devices/${deviceId}/messages/devicebound/${encodeURIComponent(got.lockToken)}${API}`, token);
    assert.equal(done.status, 204, done.text);
  }
}

/** Queued cloud-to-device messages are durable: kill -9 the hub while a back end sends, restart it, drain every queue. */
describe('kill -9 of the hub while cloud-to-device messages are sent', () => {
  const dataDir = seededDataDir();
  let hub: HubProcess | undefined;
  after(async () => {
    await hub?.stop();
  });

  const owner = (): SharedAccessPolicy => (JSON.parse(readFileSync(join(dataDir, 'policies.json'), 'utf8')) as SharedAccessPolicy[]).find((p) => p.name === 'iothubowner')!;

  test('every accepted message is queued after the restart, once, in send order; a locked message is offered again', async (t) => {
    hub = await startHubProcess(dataDir, ARGS);
    const first = hub;
    const serviceToken = createSasToken({ resource: 'localhost', keyBase64: owner().primaryKey, keyName: 'iothubowner', expiry: Date.now() / 1000 + 600, encode: false });
    const deviceTokens = new Map<string, string>();
    for (const id of [...DEVICES, LOCKED]) {
      const key = randomBytes(32).toString('base64');
      const body = JSON.stringify({ authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } } });
      const res = await rawRequest({ port: first.settings.ports.https, ca: first.ca, method: 'PUT', path: `/devices/${id}${API}`, headers: { authorization: serviceToken, 'content-type': 'application/json' }, body });
      assert.equal(res.status, 200, res.text);
      deviceTokens.set(id, createSasToken({ resource: `localhost/devices/${id}`, keyBase64: key, expiry: Date.now() / 1000 + 600 }));
    }

    const connection = await openRaw(first.settings.ports.amqp, first.ca);
    const reply = await putToken(connection, 'localhost', serviceToken);
    assert.equal(reply.application_properties?.['status-code'], 200);
    const sender = connection.open_sender({ target: { address: '/messages/devicebound' } });
    await once(sender, 'sendable');
    const message = (deviceId: string, messageId: string) => ({
      to: `/devices/${deviceId}/messages/devicebound`,
      message_id: messageId,
      body: rhea.message.data_section(Buffer.from(messageId)),
    });

    // The locked device: two messages queued, the first taken over HTTPS and never settled before the kill.
    const firstAgent = new Agent({ keepAlive: true });
    for (const id of ['locked-a', 'locked-b']) {
      const outcome = once(sender, 'accepted');
      sender.send(message(LOCKED, id));
      await outcome;
    }
    const held = await deviceRequest(firstAgent, first, 'GET', `/devices/${LOCKED}/messages/devicebound${API}`, deviceTokens.get(LOCKED)!);
    assert.equal(held.status, 200, held.text);
    assert.equal(held.messageId, 'locked-a');
    firstAgent.destroy();

    const sent = new Map<string, string[]>(DEVICES.map((d) => [d, []]));
    const accepted = new Map<string, Set<string>>(DEVICES.map((d) => [d, new Set()]));
    const pending = new Map<Delivery, { deviceId: string; messageId: string }>();
    const refused: string[] = [];
    let next = 0;
    let killed = false;
    const pump = () => {
      while (!killed && pending.size < IN_FLIGHT && sender.sendable()) {
        const deviceId = DEVICES[next % DEVICES.length]!;
        const messageId = `${deviceId}:${Math.floor(next / DEVICES.length)}`;
        next++;
        sent.get(deviceId)!.push(messageId);
        pending.set(sender.send(message(deviceId, messageId)), { deviceId, messageId });
      }
    };
    sender.on('accepted', (ctx: EventContext) => {
      const m = pending.get(ctx.delivery!);
      if (m) accepted.get(m.deviceId)!.add(m.messageId);
    });
    sender.on('rejected', (ctx: EventContext) => refused.push(`${pending.get(ctx.delivery!)?.messageId}: ${JSON.stringify(ctx.delivery?.remote_state)}`));
    sender.on('settled', (ctx: EventContext) => {
      pending.delete(ctx.delivery!);
      pump();
    });
    sender.on('sendable', pump);
    pump();
    await sleep(LOAD_MS);
    // Settlements the hub wrote before it died may still be in the socket: read to the end before counting.
    const disconnected = once(connection, 'disconnected', 10_000);
    killed = true;
    await first.kill();
    await disconnected;
    const unsettled = new Set([...pending.values()].map((m) => m.messageId));

    const acceptedTotal = [...accepted.values()].reduce((n, s) => n + s.size, 0);
    assert.deepEqual(refused, [], 'the hub refused no message');
    assert.ok(acceptedTotal > 500, `the load was real: ${acceptedTotal} accepted before the kill`);
    assert.ok(unsettled.size > 0, 'messages were in flight at the kill');

    hub = await startHubProcess(dataDir, ARGS);
    const second = hub;
    const counts = new Map<string, number>();
    for (const id of [...DEVICES, LOCKED]) {
      const res = await rawRequest({ port: second.settings.ports.https, ca: second.ca, method: 'GET', path: `/devices/${id}${API}`, headers: { authorization: serviceToken } });
      assert.equal(res.status, 200, res.text);
      counts.set(id, res.json().cloudToDeviceMessageCount);
    }

    const agent = new Agent({ keepAlive: true });
    try {
      // More than the 1 s lock has passed since the GET above, so the held message is visible again, and first.
      const relocked = await drain(agent, second, LOCKED, deviceTokens.get(LOCKED)!);
      assert.deepEqual(relocked.map((r) => r.messageId), ['locked-a', 'locked-b']);
      assert.deepEqual(relocked.map((r) => r.deliveryCount), ['1', '0'], 'the lock taken before the kill counted as a delivery');
      assert.equal(counts.get(LOCKED), 2);

      const drained = await Promise.all(DEVICES.map((id) => drain(agent, second, id, deviceTokens.get(id)!)));
      const report: string[] = [];
      DEVICES.forEach((deviceId, i) => {
        const received = drained[i]!.map((r) => r.messageId);
        const order = new Map(sent.get(deviceId)!.map((id, index) => [id, index]));
        const indexes = received.map((id) => order.get(id) ?? -1);
        assert.ok(!indexes.includes(-1), `${deviceId} received only ids that were sent: ${received.filter((id) => !order.has(id)).slice(0, 5).join(', ')}`);
        assert.equal(new Set(received).size, received.length, `${deviceId} received no id twice`);
        for (let k = 1; k < indexes.length; k++) {
          assert.ok(indexes[k]! > indexes[k - 1]!, `${deviceId} received in send order: ${received[k - 1]} came before ${received[k]}`);
        }
        const receivedSet = new Set(received);
        const lost = [...accepted.get(deviceId)!].filter((id) => !receivedSet.has(id));
        assert.deepEqual(lost, [], `${deviceId} lost none of its ${accepted.get(deviceId)!.size} accepted messages`);
        const extra = received.filter((id) => !accepted.get(deviceId)!.has(id));
        assert.deepEqual(extra.filter((id) => !unsettled.has(id)), [], `${deviceId}: the only unaccepted messages queued are ones unsettled at the kill`);
        assert.equal(counts.get(deviceId), received.length, `${deviceId}'s cloudToDeviceMessageCount after the restart is what it then drained`);
        report.push(`${deviceId}: ${accepted.get(deviceId)!.size} accepted, ${received.length} drained (${extra.length} unsettled at the kill)`);
      });
      t.diagnostic(`c2d-crash: ${acceptedTotal} accepted, ${unsettled.size} in flight at the kill; ${report.join('; ')}`);
    } finally {
      agent.destroy();
    }
  });
});
