import assert from 'node:assert/strict';
import { test } from 'node:test';
import device from 'azure-iot-device';
import amqpTransport from 'azure-iot-device-amqp';
import mqttTransport from 'azure-iot-device-mqtt';
import iothub from 'azure-iothub';
import type { AzureSuite } from './azure-sdk.test.js';

type DeviceTwin = Awaited<ReturnType<device.Client['getTwin']>>;

/** Issue 5's twins: `azure-iothub` reads and updates twins; `azure-iot-device` over Mqtt and Amqp reports and hears desired changes. */
export function twinScenarios(suite: AzureSuite): void {
  const registry = () => iothub.Registry.fromConnectionString(suite.serviceConnectionString());

  async function createDevice(deviceId: string): Promise<string> {
    const created = (await registry().create({ deviceId })).responseBody;
    return `HostName=localhost;DeviceId=${deviceId};SharedAccessKey=${created.authentication?.symmetricKey?.primaryKey}`;
  }

  test('twins: Registry.getTwin of a new device, twin.update of tags and desired, Registry.updateTwin with the etag', async () => {
    const r = registry();
    await createDevice('twin-service');
    const twin = (await r.getTwin('twin-service')).responseBody;
    assert.equal(twin.deviceId, 'twin-service');
    assert.equal(twin.properties.desired.$version, 1);
    assert.equal(twin.properties.reported.$version, 1);
    assert.deepEqual(twin.tags, {});
    assert.equal(twin.etag, 'AAAAAAAAAAE=');

    const updated = (await twin.update({ tags: { site: { building: "B1" } }, properties: { desired: { interval: 30 } } })).result;
    assert.deepEqual(updated.tags, { site: { building: 'B1' } });
    assert.equal(updated.properties.desired.interval, 30);
    assert.equal(updated.properties.desired.$version, 2);
    assert.equal(updated.etag, 'AAAAAAAAAAI=', 'version 2 (twin.update copies the new etag into the twin too)');

    const again = (await r.updateTwin('twin-service', { properties: { desired: { interval: null, mode: 'eco' } } }, updated.etag)).responseBody;
    assert.equal(again.properties.desired.interval, undefined);
    assert.equal(again.properties.desired.mode, 'eco');
    await assert.rejects(r.updateTwin('twin-service', { tags: { stale: true } }, updated.etag), (err: Error) => err.name === 'InvalidEtagError');
    await assert.rejects(r.getTwin('twin-nobody'), (err: Error) => err.name === 'DeviceNotFoundError');
  });

  for (const [name, Transport] of [['Mqtt', mqttTransport.Mqtt], ['Amqp', amqpTransport.Amqp]] as const) {
    test(`twins over ${name}: reported properties round trip; desired patches arrive with their $version; an offline device catches up`, async () => {
      const deviceId = `twin-${name.toLowerCase()}`;
      const cs = await createDevice(deviceId);
      const r = registry();
      await r.updateTwin(deviceId, { properties: { desired: { before: 'offline' } } }, '*');

      const client = device.Client.fromConnectionString(cs, Transport as never);
      client.on('error', () => undefined);
      await client.open();
      try {
        const twin: DeviceTwin = await client.getTwin();
        assert.equal(twin.properties.desired.before, 'offline', 'the full twin on GET, including what changed while offline');
        assert.equal(twin.properties.desired.$version, 2);

        await new Promise<void>((resolve, reject) => twin.properties.reported.update({ fw: '1.2.3', nested: { a: 1 } }, (err?: Error) => (err ? reject(err) : resolve())));
        const seen = (await r.getTwin(deviceId)).responseBody;
        assert.equal(seen.properties.reported.fw, '1.2.3');
        assert.deepEqual(seen.properties.reported.nested, { a: 1 });
        assert.equal(seen.properties.reported.$version, 2);

        const patches: Array<Record<string, unknown>> = [];
        const arrived = new Promise<void>((resolve) => {
          twin.on('properties.desired', (delta: Record<string, unknown>) => {
            patches.push(delta);
            if (delta.interval === 5) resolve();
          });
        });
        await new Promise((res) => setTimeout(res, 300));
        await r.updateTwin(deviceId, { properties: { desired: { interval: 5 } } }, '*');
        await arrived;
        const last = patches[patches.length - 1]!;
        assert.equal(last.interval, 5);
        assert.equal(last.$version, 3);
      } finally {
        await client.close();
      }
    });
  }

  test('query: Registry.createQuery pages through twins by tags; COUNT, GROUP BY and reported properties', async () => {
    const r = registry();
    for (let i = 0; i < 5; i++) {
      await createDevice(`q-${i}`);
      await r.updateTwin(`q-${i}`, { tags: { fleet: 'q', color: i % 2 === 0 ? 'red' : 'blue' } }, '*');
    }
    const query = r.createQuery("SELECT * FROM devices WHERE tags.fleet = 'q'", 2);
    const ids: string[] = [];
    let pages = 0;
    do {
      const page = (await query.nextAsTwin()).result;
      pages++;
      ids.push(...page.map((t) => t.deviceId));
    } while (query.hasMoreResults);
    assert.deepEqual(ids, ['q-0', 'q-1', 'q-2', 'q-3', 'q-4']);
    assert.equal(pages, 3);

    const count = (await r.createQuery("SELECT COUNT() AS n FROM devices WHERE tags.fleet = 'q'").next()).result;
    assert.deepEqual(count, [{ n: 5 }]);
    const groups = (await r.createQuery("SELECT tags.color AS color, COUNT() AS n FROM devices WHERE tags.fleet = 'q' GROUP BY tags.color").next()).result as Array<{ color: string; n: number }>;
    assert.deepEqual(groups.sort((a, b) => a.color.localeCompare(b.color)), [{ color: 'blue', n: 2 }, { color: 'red', n: 3 }]);
    const reported = (await r.createQuery("SELECT deviceId FROM devices WHERE properties.reported.fw = '1.2.3'").next()).result;
    assert.deepEqual(reported, [{ deviceId: 'twin-amqp' }, { deviceId: 'twin-mqtt' }], 'the devices of the transport scenarios above');
    await assert.rejects(r.createQuery('SELECT * FORM devices').next(), (err: Error) => /column 10/.test(err.message));
  });
}
