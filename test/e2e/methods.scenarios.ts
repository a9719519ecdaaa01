import assert from 'node:assert/strict';
import { test } from 'node:test';
import device from 'azure-iot-device';
import amqpTransport from 'azure-iot-device-amqp';
import mqttTransport from 'azure-iot-device-mqtt';
import iothub from 'azure-iothub';
import type { AzureSuite } from './azure-sdk.test.js';

type Transport = typeof mqttTransport.Mqtt | typeof amqpTransport.Amqp;
const TRANSPORTS: Record<string, Transport> = { Mqtt: mqttTransport.Mqtt, Amqp: amqpTransport.Amqp };

/**
 * Issue 6's "done when": `azure-iothub` Client.invokeDeviceMethod reaches `azure-iot-device` devices and modules
 * over Mqtt and Amqp and gets their status and payload back; an offline device and a silent one fail as Azure's do.
 * The SDK subscribes to methods in the background after `onDeviceMethod`, so calls allow a few seconds to connect.
 */
export function methodScenarios(suite: AzureSuite): void {
  let service: iothub.Client;
  let registry: iothub.Registry;

  async function connectionString(deviceId: string, moduleId?: string): Promise<string> {
    if (moduleId === undefined) {
      const created = (await registry.create({ deviceId })).responseBody;
      return `HostName=localhost;DeviceId=${deviceId};SharedAccessKey=${created.authentication?.symmetricKey?.primaryKey}`;
    }
    await registry.create({ deviceId });
    const created = (await registry.addModule({ deviceId, moduleId })).responseBody;
    return `HostName=localhost;DeviceId=${deviceId};ModuleId=${moduleId};SharedAccessKey=${created.authentication?.symmetricKey?.primaryKey}`;
  }

  test('methods: the service client and registry', async () => {
    registry = iothub.Registry.fromConnectionString(suite.serviceConnectionString());
    service = iothub.Client.fromConnectionString(suite.serviceConnectionString());
  });

  for (const [name, transport] of Object.entries(TRANSPORTS)) {
    test(`methods over ${name}: onDeviceMethod answers invokeDeviceMethod with status and payload`, async () => {
      const deviceId = `method-${name.toLowerCase()}`;
      const client = device.Client.fromConnectionString(await connectionString(deviceId), transport as never);
      client.on('error', () => undefined);
      const requests: Array<{ methodName: string; payload: unknown }> = [];
      client.onDeviceMethod('reboot', (request, response) => {
        requests.push({ methodName: request.methodName, payload: request.payload });
        void response.send(201, { rebooting: true, delay: (request.payload as { delay: number }).delay });
      });
      client.onDeviceMethod('echo', (request, response) => void response.send(200, request.payload));
      client.onDeviceMethod('bare', (_request, response) => void response.send(204));
      await client.open();
      try {
        const { result } = await service.invokeDeviceMethod(deviceId, { methodName: 'reboot', payload: { delay: 5 }, responseTimeoutInSeconds: 30, connectTimeoutInSeconds: 10 });
        assert.deepEqual(result, { status: 201, payload: { rebooting: true, delay: 5 } });
        assert.deepEqual(requests, [{ methodName: 'reboot', payload: { delay: 5 } }]);
        for (const payload of ['text', 12, [1, 'two'], { deep: { er: null } }]) {
          const echoed = await service.invokeDeviceMethod(deviceId, { methodName: 'echo', payload, responseTimeoutInSeconds: 30 });
          assert.deepEqual(echoed.result, { status: 200, payload });
        }
        const bare = await service.invokeDeviceMethod(deviceId, { methodName: 'bare', responseTimeoutInSeconds: 30 });
        assert.deepEqual(bare.result, { status: 204, payload: null });
      } finally {
        await client.close();
      }
    });

    test(`methods over ${name}: a module's onMethod answers invokeDeviceMethod(deviceId, moduleId, ...)`, async () => {
      const deviceId = `method-host-${name.toLowerCase()}`;
      const client = device.ModuleClient.fromConnectionString(await connectionString(deviceId, 'worker'), transport as never);
      client.on('error', () => undefined);
      client.onMethod('status', (request, response) => void response!.send(200, { module: 'worker', asked: request!.payload }));
      await client.open();
      try {
        const { result } = await service.invokeDeviceMethod(deviceId, 'worker', { methodName: 'status', payload: 'now', responseTimeoutInSeconds: 30, connectTimeoutInSeconds: 10 });
        assert.deepEqual(result, { status: 200, payload: { module: 'worker', asked: 'now' } });
      } finally {
        await client.close();
      }
    });
  }

  test('methods: an offline device fails with 404 DeviceNotOnline (the Node SDK has no class for it: a plain "Not found")', async () => {
    await connectionString('method-offline');
    const started = Date.now();
    const err = await service.invokeDeviceMethod('method-offline', { methodName: 'reboot', responseTimeoutInSeconds: 30 }).then(
      () => assert.fail('the call succeeded'),
      (e: unknown) => e as Error & { response?: { statusCode?: number }; responseBody?: unknown },
    );
    assert.equal(err.message, 'Not found');
    assert.equal(err.response?.statusCode, 404);
    assert.match(String(err.responseBody), /ErrorCode:DeviceNotOnline;/);
    assert.ok(Date.now() - started < 5000, 'not retried');
  });

  test('methods: an unknown device fails with DeviceNotFoundError', async () => {
    await assert.rejects(service.invokeDeviceMethod('method-nobody', { methodName: 'x' }), { name: 'DeviceNotFoundError' });
  });

  test('methods: a device that never answers fails with GatewayTimeoutError after responseTimeoutInSeconds', async () => {
    const deviceId = 'method-silent';
    const client = device.Client.fromConnectionString(await connectionString(deviceId), mqttTransport.Mqtt as never);
    client.on('error', () => undefined);
    client.onDeviceMethod('ignore', () => undefined);
    await client.open();
    try {
      const started = Date.now();
      // The SDK's own socket timeout is response + connect timeout: the connect timeout keeps it above the hub's 504.
      await assert.rejects(service.invokeDeviceMethod(deviceId, { methodName: 'ignore', responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 5 }), {
        name: 'GatewayTimeoutError',
      });
      assert.ok(Date.now() - started >= 5000);
    } finally {
      await client.close();
    }
  });
}
