// `lazuli method invoke` against a hub process, answered by a raw MQTT device on the same hub.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { type HubProcess, runLazuli, startHubProcess } from '../support/hub-process.js';
import { seededDataDir } from '../support/test-ca.js';
import { connectPacket, MqttTestClient } from '../protocol/mqtt-test-client.js';

const EPHEMERAL = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--bind', '127.0.0.1'];

describe('lazuli method invoke', () => {
  let hub: HubProcess;
  const dataDir = seededDataDir();
  const method = (...args: string[]) => runLazuli(['method', ...args, '--data-dir', dataDir]);

  before(async () => {
    hub = await startHubProcess(dataDir, [...EPHEMERAL, '--hostname', 'localhost']);
  });
  after(async () => {
    assert.equal(await hub.stop(), 0, hub.output());
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function mqttDevice(deviceId: string): Promise<MqttTestClient> {
    const created = await runLazuli(['device', 'create', deviceId, '--json', '--data-dir', dataDir]);
    assert.equal(created.code, 0, created.stderr);
    const key = (JSON.parse(created.stdout) as { authentication: { symmetricKey: { primaryKey: string } } }).authentication.symmetricKey.primaryKey;
    const socket = await new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', servername: 'localhost', port: hub.settings.ports.mqtt, ca: hub.ca }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new MqttTestClient(socket);
    client.send(connectPacket(`localhost:${hub.settings.ports.mqtt}`, { deviceId, key }, { clean: true }));
    assert.equal((await client.expect('connack')).returnCode, 0);
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$iothub/methods/POST/#', qos: 0 }] });
    await client.expect('suback');
    return client;
  }

  test('prints the status and payload the device answered, with the payload and timeout given', async () => {
    const client = await mqttDevice('cli-method');
    const invoked = method('invoke', 'cli-method', 'reboot', '--payload', '{"delay":3}', '--timeout', '10');
    const request = await client.expect('publish', 10_000);
    const rid = /\?\$rid=(.+)$/.exec(request.topic)![1]!;
    assert.equal(request.topic, `$iothub/methods/POST/reboot/?$rid=${rid}`);
    assert.equal(request.payload.toString(), '{"delay":3}');
    client.send({ cmd: 'publish', topic: `$iothub/methods/res/200/?$rid=${rid}`, payload: '{"ok":true}', qos: 0, dup: false, retain: false });
    const { code, stdout, stderr } = await invoked;
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), { status: 200, payload: { ok: true } });
    client.destroy();
  });

  test('an offline device: exit 1 with Azure error code; bad flags: exit 2', async () => {
    const created = await runLazuli(['device', 'create', 'cli-offline', '--data-dir', dataDir]);
    assert.equal(created.code, 0, created.stderr);
    const offline = await method('invoke', 'cli-offline', 'reboot');
    assert.equal(offline.code, 1, offline.stderr);
    assert.match(offline.stderr, /DeviceNotOnline \(404\)/);
    for (const args of [['reboot', '--payload', '{nope'], [], ['x', '--timeout', 'soon']]) {
      const misused = await method('invoke', 'cli-offline', ...args);
      assert.equal(misused.code, 2, `${args.join(' ')}: ${misused.stderr}`);
    }
    const refused = await method('invoke', 'cli-offline', 'x', '--timeout', '1');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /ArgumentInvalid \(400\): responseTimeoutInSeconds/);
  });
});
