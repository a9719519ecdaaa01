// Two hub nodes as separate processes on PostgreSQL + NATS JetStream: any node serves any request. A device on node
// B gets a C2D message sent through node A, answers a method invoked through A, and its telemetry is read through A.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import rhea from 'rhea';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { createSasToken } from '../../src/domain/sas.js';
import type { HubProcess } from '../support/hub-process.js';
import { rawRequest } from '../support/https-client.js';
import { once, openRaw, putToken } from '../support/amqp-test-client.js';
import { scaleOutMissing, scaleOutUnavailable, startCluster, type Cluster } from '../support/cluster.js';

const API = '?api-version=2021-04-12';
const why = await scaleOutUnavailable();

describe('two nodes on PostgreSQL and NATS', { concurrency: false }, () => {
  if (why !== undefined) return scaleOutMissing(why);

  let cluster: Cluster;
  let a: HubProcess;
  let b: HubProcess;
  let hubName: string;
  let owner: SharedAccessPolicy;
  let deviceKey: string;

  const serviceToken = () => cluster.serviceToken();
  const rest = (node: HubProcess, method: string, path: string, body?: unknown) => cluster.rest(node, method, path, body);

  before(async () => {
    cluster = await startCluster(2, 'cluster');
    [a, b] = cluster.nodes as [HubProcess, HubProcess];
    ({ hubName, owner } = cluster);
  });

  after(async () => cluster?.destroy());

  test('a device created through node A is served by node B', async () => {
    const created = await rest(a, 'PUT', '/devices/roamer', { deviceId: 'roamer' });
    assert.equal(created.status, 200, created.text);
    deviceKey = created.json().authentication.symmetricKey.primaryKey;
    const seen = await rest(b, 'GET', '/devices/roamer');
    assert.equal(seen.status, 200, seen.text);
    assert.equal(seen.json().generationId, created.json().generationId);
  });

  test('C2D sent through A reaches the device on B; a method invoked through A is answered by it; its telemetry is read through A', async () => {
    const password = createSasToken({ resource: 'localhost/devices/roamer', keyBase64: deviceKey, expiry: Date.now() / 1000 + 600 });
    const device = await mqtt.connectAsync(`mqtts://127.0.0.1:${b.settings.ports.mqtt}`, {
      clientId: 'roamer',
      username: 'localhost/roamer/?api-version=2021-04-12',
      password,
      ca: b.ca,
      servername: 'localhost',
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    try {
      await device.subscribeAsync(['devices/roamer/messages/devicebound/#', '$iothub/methods/POST/#'], { qos: 1 });
      const received = new Promise<{ topic: string; payload: string }>((resolve) => {
        device.on('message', (topic, payload) => {
          if (topic.startsWith('devices/roamer/messages/devicebound/')) resolve({ topic, payload: payload.toString() });
          const call = /^\$iothub\/methods\/POST\/([^/]+)\/\?\$rid=(.+)$/.exec(topic);
          if (call) void device.publishAsync(`$iothub/methods/res/200/?$rid=${call[2]}`, JSON.stringify({ answeredBy: 'B', method: call[1] }));
        });
      });

      // C2D through node A's AMQP service endpoint.
      const service = await openRaw(a.settings.ports.amqp, a.ca);
      assert.equal((await putToken(service, 'localhost', serviceToken())).application_properties?.['status-code'], 200);
      const sender = service.open_sender({ target: { address: '/messages/devicebound' } });
      await once(sender, 'sendable');
      sender.send({ to: '/devices/roamer/messages/devicebound', message_id: 'cross-node', body: rhea.message.data_section(Buffer.from('from A')) });
      const c2d = await Promise.race([received, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no C2D on node B within 10 s')), 10_000))]);
      assert.equal(c2d.payload, 'from A');
      assert.match(c2d.topic, /%24\.mid=cross-node/);
      service.close();

      // A direct method through node A's REST API.
      const call = await rest(a, 'POST', '/twins/roamer/methods', { methodName: 'where', payload: {}, responseTimeoutInSeconds: 10 });
      assert.equal(call.status, 200, call.text);
      assert.deepEqual(call.json(), { status: 200, payload: { answeredBy: 'B', method: 'where' } });

      // Telemetry into node B, read through node A's Event Hub-compatible endpoint.
      await device.publishAsync('devices/roamer/messages/events/', 'hello from B', { qos: 1 });
    } finally {
      await device.endAsync();
    }
    const consumer = await openRaw(a.settings.ports.amqp, a.ca);
    const ehToken = createSasToken({ resource: `sb://localhost/${hubName}`, keyBase64: owner.primaryKey, keyName: owner.name, expiry: Date.now() / 1000 + 600, encode: false });
    const bodies: string[] = [];
    for (let partition = 0; partition < 4 && !bodies.includes('hello from B'); partition++) {
      const reply = await putToken(consumer, `sb://localhost/${hubName}`, ehToken);
      assert.equal(reply.application_properties?.['status-code'], 200);
      const receiver = consumer.open_receiver({ source: { address: `${hubName}/ConsumerGroups/$Default/Partitions/${partition}` } });
      await once(receiver, 'receiver_open');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1500);
        receiver.on('message', (ctx) => {
          const body = ctx.message?.body as { content?: Buffer } | Buffer | string | undefined;
          const text = Buffer.isBuffer(body) ? body.toString() : typeof body === 'string' ? body : body?.content?.toString() ?? '';
          bodies.push(text);
          if (text === 'hello from B') {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      receiver.close();
    }
    consumer.close();
    assert.ok(bodies.includes('hello from B'), `read through A: ${JSON.stringify(bodies)}`);
  });

  test('connecting to B drops the same identity\'s connection on A, and A reports it connected; disabling it through A drops it on B', async () => {
    const connectTo = (node: HubProcess) =>
      mqtt.connectAsync(`mqtts://127.0.0.1:${node.settings.ports.mqtt}`, {
        clientId: 'roamer',
        username: 'localhost/roamer/?api-version=2021-04-12',
        password: createSasToken({ resource: 'localhost/devices/roamer', keyBase64: deviceKey, expiry: Date.now() / 1000 + 600 }),
        ca: node.ca,
        servername: 'localhost',
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
    const closed = (client: mqtt.MqttClient) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the connection was not closed within 5 s')), 5000);
        client.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    const onA = await connectTo(a);
    const droppedA = closed(onA);
    const onB = await connectTo(b);
    await droppedA;
    assert.equal(onB.connected, true, 'the newer connection stays');
    // Presence is cluster-wide: node A reports the device connected (to B), through the registry and the twin.
    assert.equal((await rest(a, 'GET', '/devices/roamer')).json().connectionState, 'Connected');
    assert.equal((await rest(a, 'GET', '/twins/roamer')).json().connectionState, 'Connected');

    const droppedB = closed(onB);
    const current = (await rest(b, 'GET', '/devices/roamer')).json();
    const disabled = await rawRequest({
      port: a.settings.ports.https,
      ca: a.ca,
      method: 'PUT',
      path: `/devices/roamer${API}`,
      headers: { authorization: serviceToken(), 'content-type': 'application/json', 'if-match': '*' },
      body: JSON.stringify({ ...current, status: 'disabled' }),
    });
    assert.equal(disabled.status, 200, disabled.text);
    await droppedB;
    assert.equal((await rest(a, 'GET', '/devices/roamer')).json().connectionState, 'Disconnected', 'dropped everywhere');
    onA.end(true);
    onB.end(true);
  });
});
