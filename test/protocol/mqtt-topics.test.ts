// The pure mappings of the MQTT adapter: client id and username, telemetry topics, subscription filters, and the
// property bag to HubMessage mapping.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectIdentityError, isHubHost, parseClientId, parseUsername } from '../../src/protocols/mqtt/connect-identity.js';
import { classifyFilter, type SubscriptionKind } from '../../src/protocols/mqtt/subscription-filters.js';
import { telemetryMessage } from '../../src/protocols/mqtt/telemetry-message.js';
import { formatTelemetryTopic, parseTelemetryTopic, topicBelongsTo, type TelemetryTopic } from '../../src/protocols/mqtt/telemetry-topic.js';

const DEVICE = { deviceId: 'dev1' };
const MODULE = { deviceId: 'dev1', moduleId: 'mod1' };

describe('MQTT client id and username', () => {
  test('client ids', () => {
    assert.deepEqual(parseClientId('dev1'), DEVICE);
    assert.deepEqual(parseClientId('dev1/mod1'), MODULE);
    assert.deepEqual(parseClientId('a%20b'), { deviceId: 'a%20b' });
    for (const bad of ['', '/', 'a/', '/b', 'a/b/c']) assert.throws(() => parseClientId(bad), ConnectIdentityError, bad);
  });

  const ACCEPTED: Array<[string, typeof DEVICE | typeof MODULE, { host: string; modelId?: string }]> = [
    ['hub.example/dev1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4', DEVICE, { host: 'hub.example' }],
    ['hub.example:8883/dev1/mod1/?api-version=2021-04-12', MODULE, { host: 'hub.example:8883' }],
    ['hub.example/dev1/api-version=2016-11-14&DeviceClientType=iothubclient%2f1.1.0', DEVICE, { host: 'hub.example' }],
    ['hub.example/dev1', DEVICE, { host: 'hub.example' }],
    ['hub.example/dev1/', DEVICE, { host: 'hub.example' }],
    ['h/dev1/?api-version=1&model-id=dtmi:com:example:Thermostat;1&DeviceClientType=x', DEVICE, { host: 'h', modelId: 'dtmi:com:example:Thermostat;1' }],
    ['h/dev1/?model-id=dtmi%3Acom%3Aexample%3AX%3B2', DEVICE, { host: 'h', modelId: 'dtmi:com:example:X;2' }],
    ['h/dev1/?api-version=1&DeviceClientType=bad%zz', DEVICE, { host: 'h' }],
  ];
  for (const [username, ids, expected] of ACCEPTED) {
    test(`username accepted: ${username}`, () => assert.deepEqual(parseUsername(username, ids), expected));
  }

  const REFUSED: Array<[string, typeof DEVICE | typeof MODULE]> = [
    ['', DEVICE],
    ['/dev1/?api-version=1', DEVICE],
    ['hub.example/dev2/?api-version=1', DEVICE],
    ['hub.example/DEV1/?api-version=1', DEVICE],
    ['hub.example/dev1/mod1/?api-version=1', DEVICE],
    ['hub.example/dev1/?api-version=1', MODULE],
    ['hub.example/dev1/mod2/?api-version=1', MODULE],
    ['hub.example/dev1/extra', DEVICE],
    ['hub.example/dev1/api-version=1/more', DEVICE],
    ['hub.example', DEVICE],
  ];
  for (const [username, ids] of REFUSED) {
    test(`username refused for ${ids === DEVICE ? 'dev1' : 'dev1/mod1'}: "${username}"`, () => {
      assert.throws(() => parseUsername(username, ids), ConnectIdentityError);
    });
  }

  test('host names compare case-insensitively, with or without a port', () => {
    assert.equal(isHubHost('Hub.Example', 'hub.example'), true);
    assert.equal(isHubHost('hub.example:18883', 'hub.example'), true);
    assert.equal(isHubHost('hub.example.evil', 'hub.example'), false);
    assert.equal(isHubHost('hub.example:', 'hub.example'), false);
  });
});

describe('MQTT telemetry topics', () => {
  const BOTH_WAYS: Array<[string, TelemetryTopic, typeof DEVICE | typeof MODULE, string]> = [
    ['devices/dev1/messages/events/', { deviceSegment: 'dev1', bag: '' }, DEVICE, ''],
    ['devices/dev1/messages/events/a=1&b', { deviceSegment: 'dev1', bag: 'a=1&b' }, DEVICE, 'a=1&b'],
    ['devices/dev1/modules/mod1/messages/events/%24.on=o', { deviceSegment: 'dev1', moduleSegment: 'mod1', bag: '%24.on=o' }, MODULE, '%24.on=o'],
  ];
  for (const [topic, parsed, ids, bag] of BOTH_WAYS) {
    test(`both ways: ${topic}`, () => {
      assert.deepEqual(parseTelemetryTopic(topic), parsed);
      assert.equal(formatTelemetryTopic(ids, bag), topic);
    });
  }

  test('trailing slashes and a missing final slash', () => {
    assert.deepEqual(parseTelemetryTopic('devices/d/modules/m/messages/events/%24.on=o/'), { deviceSegment: 'd', moduleSegment: 'm', bag: '%24.on=o' });
    assert.deepEqual(parseTelemetryTopic('devices/d/messages/events'), { deviceSegment: 'd', bag: '' });
  });

  test('other topics are not telemetry', () => {
    for (const topic of ['devices/d/messages/devicebound/', 'devices//messages/events/', '$iothub/twin/GET/?$rid=1', 'devices/d/messages/eventsx', 'x/devices/d/messages/events/']) {
      assert.equal(parseTelemetryTopic(topic), undefined, topic);
    }
  });

  test('parses exactly as the regular expressions it replaced', () => {
    const device = /^devices\/([^/]+)\/messages\/events(?:\/(.*))?$/s;
    const module = /^devices\/([^/]+)\/modules\/([^/]+)\/messages\/events(?:\/(.*))?$/s;
    const reference = (topic: string): TelemetryTopic | undefined => {
      const trim = (bag: string | undefined) => (bag ?? '').replace(/\/+$/, '');
      const m = module.exec(topic);
      if (m) return { deviceSegment: m[1]!, moduleSegment: m[2]!, bag: trim(m[3]) };
      const d = device.exec(topic);
      return d ? { deviceSegment: d[1]!, bag: trim(d[2]) } : undefined;
    };
    const parts = ['devices', 'modules', 'messages', 'events', 'd', 'm', '', 'a=1', '\n', 'eventsx', '%24'];
    let seed = 7;
    const pick = () => parts[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % parts.length]!;
    const topics = ['devices/modules/messages/events/', 'devices/d/modules/messages/events', 'devices/d/modules/m/messages/events//', 'devices/d/messages/events/a/b//'];
    for (let i = 0; i < 20_000; i++) topics.push(Array.from({ length: 2 + (i % 7) }, pick).join('/'));
    for (let i = 0; i < 2_000; i++) topics.push(`devices/${pick()}/${i % 2 ? `modules/${pick()}/` : ''}messages/events${['', '/', '//', `/${pick()}`, `/${pick()}/`][i % 5]}`);
    let telemetry = 0;
    for (const topic of topics) {
      const parsed = parseTelemetryTopic(topic);
      assert.deepEqual(parsed, reference(topic), JSON.stringify(topic));
      if (parsed) telemetry++;
    }
    assert.ok(telemetry > 500 && telemetry < topics.length - 10_000, `${telemetry} of ${topics.length} are telemetry topics`);
  });

  test('a topic belongs to the identity whose ids it names, raw or percent-encoded', () => {
    const owns = (topic: string, ids: { deviceId: string; moduleId?: string }) => topicBelongsTo(parseTelemetryTopic(topic)!, ids);
    assert.equal(owns('devices/a+b/messages/events/', { deviceId: 'a+b' }), true);
    assert.equal(owns('devices/a%2Bb/messages/events/', { deviceId: 'a+b' }), true);
    assert.equal(owns('devices/a%41/messages/events/', { deviceId: 'a%41' }), true);
    assert.equal(owns('devices/a%41/messages/events/', { deviceId: 'aA' }), true);
    assert.equal(owns('devices/other/messages/events/', DEVICE), false);
    assert.equal(owns('devices/dev1/modules/mod1/messages/events/', DEVICE), false);
    assert.equal(owns('devices/dev1/messages/events/', MODULE), false);
    assert.equal(owns('devices/dev1/modules/mod2/messages/events/', MODULE), false);
  });
});

describe('MQTT subscription filters', () => {
  const TABLE: Array<[string, typeof DEVICE | typeof MODULE, SubscriptionKind | undefined]> = [
    ['devices/dev1/messages/devicebound/#', DEVICE, 'c2d'],
    ['devices/dev%31/messages/devicebound/#', DEVICE, 'c2d'],
    ['$iothub/methods/POST/#', DEVICE, 'methods'],
    ['$iothub/twin/res/#', MODULE, 'twinResponses'],
    ['$iothub/twin/PATCH/properties/desired/#', DEVICE, 'twinDesired'],
    ['devices/dev1/modules/mod1/inputs/#', MODULE, 'moduleInputs'],
    ['devices/dev1/modules/mod1/inputs/#', DEVICE, undefined],
    ['devices/dev1/messages/devicebound/#', MODULE, undefined],
    ['devices/dev2/messages/devicebound/#', DEVICE, undefined],
    ['devices/dev1/messages/devicebound/+', DEVICE, undefined],
    ['devices/dev1/modules/mod1/#', MODULE, undefined],
    ['$iothub/methods/#', DEVICE, undefined],
    ['#', DEVICE, undefined],
    ['constructor', DEVICE, undefined],
  ];
  for (const [filter, ids, kind] of TABLE) {
    test(`${filter} for ${'moduleId' in ids ? 'a module' : 'a device'}: ${kind ?? 'refused'}`, () => assert.equal(classifyFilter(filter, ids), kind));
  }
});

describe('MQTT property bag to HubMessage', () => {
  test('system properties, annotations and application properties', () => {
    const { message, unusable } = telemetryMessage(
      [
        ['$.mid', 'm'],
        ['$.cid', 'c'],
        ['$.uid', 'u'],
        ['$.to', '/t'],
        ['$.ct', 'application/json'],
        ['$.ce', 'utf-8'],
        ['$.exp', '2030-01-01T00:00:00.000Z'],
        ['$.ctime', '2024-01-01T00:00:00+01:00'],
        ['$.sub', 'thermostat1'],
        ['$.ifid', 'urn:azureiot:Security:SecurityAgent:1'],
        ['$.on', 'out1'],
        ['$.diagid', 'ignored'],
        ['app', 'v'],
        ['nothing', null],
        ['__proto__', 'kept'],
      ],
      Buffer.from('b'),
      false,
    );
    assert.deepEqual(unusable, []);
    assert.deepEqual(message.properties, {
      messageId: 'm',
      correlationId: 'c',
      userId: 'u',
      to: '/t',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      absoluteExpiryTime: Date.parse('2030-01-01T00:00:00.000Z'),
      creationTime: Date.parse('2023-12-31T23:00:00Z'),
    });
    assert.deepEqual(message.annotations, { 'dt-subject': 'thermostat1', 'iothub-interface-id': 'urn:azureiot:Security:SecurityAgent:1' });
    assert.deepEqual(Object.entries(message.applicationProperties), [
      ['iothub-outputname', 'out1'],
      ['app', 'v'],
      ['nothing', null],
      ['__proto__', 'kept'],
    ]);
  });

  test('times that are not ISO 8601 and null system values are left out and reported', () => {
    const { message, unusable } = telemetryMessage([['$.exp', '0'], ['$.ctime', 'yesterday'], ['$.mid', null]], Buffer.alloc(0), false);
    assert.deepEqual(message.properties, {});
    assert.deepEqual(unusable, ['$.exp', '$.ctime', '$.mid']);
  });

  test('retain becomes mqtt-retain=true', () => {
    assert.deepEqual(telemetryMessage([], Buffer.alloc(0), true).message.applicationProperties, { 'mqtt-retain': 'true' });
  });
});
