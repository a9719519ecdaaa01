import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMessage, encodeMessage, encodeStampedMessage, stampOf } from '../../src/domain/message-codec.js';
import type { HubMessage } from '../../src/domain/message.js';

const T = 1_764_000_000_123;
const message: HubMessage = {
  body: Buffer.from('{"temp":21}'),
  properties: { messageId: 'm-1', contentType: 'application/json' },
  applicationProperties: { alert: 'no' },
  annotations: { 'dt-subject': 'thermostat', 'iothub-connection-device-id': 'forged' },
};

const fields = { deviceId: 'dev-1', moduleId: 'mod', authScope: 'module', authType: 'sas', generationId: '638123456789012345', modelId: 'dtmi:x;1' };

test('a stamped message decodes to the full annotations, the stamp winning, in the order the hub always wrote them', () => {
  const decoded = decodeMessage(encodeStampedMessage(message, stampOf(fields), T));
  assert.deepEqual(decoded.body, message.body);
  assert.deepEqual(decoded.properties, message.properties);
  assert.deepEqual(decoded.applicationProperties, message.applicationProperties);
  assert.deepEqual(Object.entries(decoded.annotations), [
    ['dt-subject', 'thermostat'],
    ['iothub-connection-device-id', 'dev-1'],
    ['iothub-connection-module-id', 'mod'],
    ['iothub-connection-auth-method', '{"scope":"module","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}'],
    ['iothub-connection-auth-generation-id', '638123456789012345'],
    ['iothub-message-source', 'Telemetry'],
    ['dt-dataschema', 'dtmi:x;1'],
    ['iothub-enqueuedtime', T],
  ]);
});

test('the stamp is stored in short form: ~200 bytes fewer per event than the full names', () => {
  const compact = encodeStampedMessage(message, stampOf({ deviceId: 'dev-1', authScope: 'device', authType: 'sas', generationId: '638123456789012345' }), T);
  const full = encodeMessage({ ...message, annotations: decodeMessage(compact).annotations });
  assert.ok(full.length - compact.length >= 180, `full ${full.length} bytes, short ${compact.length}`);
});

test('events stored before (the stamp among the annotations by full name) decode as they did', () => {
  const annotations = { 'iothub-connection-device-id': 'dev-1', 'iothub-message-source': 'Telemetry', 'iothub-enqueuedtime': T };
  const old = encodeMessage({ ...message, annotations });
  assert.deepEqual(decodeMessage(old).annotations, annotations);
});

test('a stamp member this build does not know is refused, not passed on', () => {
  const header = Buffer.from('{"p":{},"a":{},"n":{},"c":{"zz":1}}');
  const payload = Buffer.concat([Buffer.alloc(4), header]);
  payload.writeUInt32BE(header.length, 0);
  assert.throws(() => decodeMessage(payload), /unknown stamp member "zz"/);
});

test('a message with only a body and one with non-ASCII ids and properties both decode to what was stamped', () => {
  const stamp = stampOf({ deviceId: 'gerät-ü', moduleId: 'mödul', authScope: 'module', authType: 'sas', generationId: '1' });
  const bare = decodeMessage(encodeStampedMessage({ body: Buffer.from('x'), properties: {}, applicationProperties: {}, annotations: {} }, stamp, T));
  assert.deepEqual(bare.properties, {});
  assert.deepEqual(bare.applicationProperties, {});
  assert.equal(bare.annotations['iothub-connection-device-id'], 'gerät-ü');
  assert.equal(bare.annotations['iothub-connection-module-id'], 'mödul');
  assert.equal(bare.annotations['iothub-enqueuedtime'], T);
  assert.deepEqual(bare.body, Buffer.from('x'));
  const rich = decodeMessage(encodeStampedMessage({ body: Buffer.alloc(0), properties: { messageId: 'ñ' }, applicationProperties: { 'clé': 'välue' }, annotations: { 'dt-subject': 'é' } }, stamp, T));
  assert.deepEqual(rich.properties, { messageId: 'ñ' });
  assert.deepEqual(rich.applicationProperties, { 'clé': 'välue' });
  assert.equal(rich.annotations['dt-subject'], 'é');
  assert.equal(rich.annotations['iothub-connection-device-id'], 'gerät-ü');
  assert.equal(rich.body.length, 0);
});

test('each message carries its own enqueued time, however the time text is cached', () => {
  const stamp = stampOf({ deviceId: 'd', authScope: 'device', authType: 'sas', generationId: '1' });
  const bare = (): HubMessage => ({ body: Buffer.from('x'), properties: {}, applicationProperties: {}, annotations: {} });
  const times = [T, T, T + 1, T - 5, 0, T];
  const decoded = times.map((t) => decodeMessage(encodeStampedMessage(bare(), stamp, t)).annotations['iothub-enqueuedtime']);
  assert.deepEqual(decoded, times);
});
