import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionRegistry } from '../../src/core/connections/connection-registry.js';
import { TelemetryService } from '../../src/core/telemetry/telemetry-service.js';
import type { DeviceIdentity } from '../../src/domain/device-identity.js';
import { isHubError } from '../../src/domain/errors.js';
import type { HubMessage } from '../../src/domain/message.js';
import { decodeMessage } from '../../src/domain/message-codec.js';
import { partitionOf } from '../../src/domain/partitioning.js';
import { MemoryTelemetryLog } from '../../src/storage/memory/memory-telemetry-log.js';

const NOW = 1_800_000_000_000;
const device: DeviceIdentity = { deviceId: 'd1', generationId: 'g1', authScope: 'device', authType: 'sas', modelId: 'dtmi:x;1' };
const mod: DeviceIdentity = { deviceId: 'd1', moduleId: 'm1', generationId: 'g2', authScope: 'module', authType: 'sas' };

function service(maxMessageBytes?: number) {
  const log = new MemoryTelemetryLog(4);
  const telemetry = new TelemetryService(log, new ConnectionRegistry(() => NOW), { now: () => NOW, ...(maxMessageBytes ? { maxMessageBytes } : {}) });
  return { log, telemetry };
}

function message(annotations: HubMessage['annotations'] = {}): HubMessage {
  return { body: Buffer.from([0, 1, 2]), properties: { messageId: 'm', contentType: 'application/json' }, applicationProperties: { 'k"ey': 'v\u00e9', n: null }, annotations };
}

test('stamps Azure system properties in the device partition; the message keeps the rest intact', async () => {
  const { log, telemetry } = service();
  const event = await telemetry.send(device, message({ 'dt-subject': 'thermostat1' }));
  assert.equal(event.partition, partitionOf('d1', 4));
  const stored = decodeMessage((await log.read(event.partition, 0, 1))[0]!.payload);
  assert.deepEqual(stored.body, Buffer.from([0, 1, 2]));
  assert.deepEqual(stored.properties, { messageId: 'm', contentType: 'application/json' });
  assert.deepEqual(stored.applicationProperties, { 'k"ey': 'v\u00e9', n: null });
  assert.deepEqual(stored.annotations, {
    'dt-subject': 'thermostat1',
    'iothub-connection-device-id': 'd1',
    'iothub-connection-auth-method': '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
    'iothub-connection-auth-generation-id': 'g1',
    'iothub-message-source': 'Telemetry',
    'dt-dataschema': 'dtmi:x;1',
    'iothub-enqueuedtime': NOW,
  });
});

test('a device cannot set what the hub stamps, nor claim a module', async () => {
  const { log, telemetry } = service();
  const spoof = { 'iothub-connection-device-id': 'someone-else', 'iothub-connection-module-id': 'fake', 'iothub-enqueuedtime': 1, 'iothub-message-source': 'twinChangeEvents' };
  const event = await telemetry.send(device, message(spoof));
  const a = decodeMessage((await log.read(event.partition, 0, 1))[0]!.payload).annotations;
  assert.equal(a['iothub-connection-device-id'], 'd1');
  assert.equal(a['iothub-connection-module-id'], undefined);
  assert.equal(a['iothub-enqueuedtime'], NOW);
  assert.equal(a['iothub-message-source'], 'Telemetry');
});

test('a module is stamped as itself, in its device\'s partition', async () => {
  const { log, telemetry } = service();
  const event = await telemetry.send(mod, message());
  assert.equal(event.partition, partitionOf('d1', 4));
  const a = decodeMessage((await log.read(event.partition, 0, 1))[0]!.payload).annotations;
  assert.equal(a['iothub-connection-module-id'], 'm1');
  assert.equal(a['iothub-connection-auth-generation-id'], 'g2');
});

test('messages and batches over the limit are refused with MessageTooLarge and nothing is stored', async () => {
  const { log, telemetry } = service(1024);
  const big = { ...message(), body: Buffer.alloc(1025) };
  await assert.rejects(telemetry.send(device, big), (err) => isHubError(err, 'MessageTooLarge'));
  const half = { ...message(), body: Buffer.alloc(600) };
  await assert.rejects(telemetry.sendBatch(device, [half, half]), (err) => isHubError(err, 'MessageTooLarge'));
  assert.equal((await log.partitionInfo(partitionOf('d1', 4))).isEmpty, true);
});
