import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseQuery, runQuery } from '../../src/domain/query/index.js';

function twin(deviceId: string, fields: { tags?: object; reported?: object; [key: string]: unknown }): Record<string, unknown> {
  const { tags = {}, reported = {}, ...rest } = fields;
  return {
    deviceId,
    etag: 'AAAAAAAAAAE=',
    status: 'enabled',
    connectionState: 'Disconnected',
    version: 2,
    capabilities: { iotEdge: false },
    ...rest,
    tags,
    properties: { desired: { $metadata: {}, $version: 1 }, reported: { ...reported, $metadata: {}, $version: 1 } },
  };
}

const FLEET = [
  twin('d1', {
    connectionState: 'Connected',
    tags: { location: { region: 'US' }, floor: 3, list: ['a', 'b', { k: 1 }], quote: "it's", said: 'say "hi"' },
    reported: { fw: '1.2', connectivity: { type: 'cellular' }, telemetryConfig: { status: 'Success', sendFrequencyInSecs: 300 }, nothing: null },
  }),
  twin('d2', {
    status: 'disabled',
    capabilities: { iotEdge: true },
    tags: { location: { region: 'EU' }, floor: 1 },
    reported: { fw: '1.3', connectivity: { type: 'wifi' }, telemetryConfig: { status: 'Pending', sendFrequencyInSecs: 30 } },
  }),
  twin('d3', {
    tags: { location: { region: 'US' }, floor: '3' },
    reported: { fw: '2.0', connectivity: { type: 'wired' }, telemetryConfig: { status: 'Success', sendFrequencyInSecs: 60 } },
  }),
  twin('edge-4', { reported: { telemetryConfig: { status: 'Error' } } }),
  twin('d5', { tags: { location: { region: 'US' }, floor: 10 }, reported: { fw: '10.0' } }),
];

const MODULES = [
  { ...twin('d1', { reported: { status: 'scanning' } }), moduleId: 'm1' },
  { ...twin('d1', { reported: { status: 'idle' } }), moduleId: 'm2' },
  { ...twin('device2', { reported: { status: 'scanning' } }), moduleId: 'm1' },
];

const run = (text: string, twins: Iterable<object> = FLEET) => runQuery(parseQuery(text), twins);
/** The ids of the twins the condition selects, in input order. */
const matches = (condition: string): string[] =>
  run(`SELECT * FROM devices WHERE ${condition}`).items.map((t) => (t as { deviceId: string }).deviceId);

describe('query evaluation: conditions', () => {
  const cases: Array<[string, string[]]> = [
    // comparisons between numbers
    ['tags.floor = 3', ['d1']],
    ['tags.floor != 3', ['d2', 'd5']],
    ['tags.floor <> 3', ['d2', 'd5']],
    ['tags.floor < 3', ['d2']],
    ['tags.floor <= 3', ['d1', 'd2']],
    ['tags.floor > 3', ['d5']],
    ['tags.floor >= 3', ['d1', 'd5']],
    // strings compare by code unit, not numerically
    ["properties.reported.fw < '2'", ['d1', 'd2', 'd5']],
    ["properties.reported.fw >= '2'", ['d3']],
    ["tags.floor = '3'", ['d3']],
    ["'10' < '9'", ['d1', 'd2', 'd3', 'edge-4', 'd5']],
    ["deviceId > 'D'", ['d1', 'd2', 'd3', 'edge-4', 'd5']],
    // booleans and null
    ['capabilities.iotEdge = true', ['d2']],
    ['capabilities.iotEdge', ['d2']],
    ['capabilities.iotEdge != true', ['d1', 'd3', 'edge-4', 'd5']],
    ['properties.reported.nothing = null', ['d1']],
    ['true', ['d1', 'd2', 'd3', 'edge-4', 'd5']],
    ['false', []],
    // different types, objects and undefined never compare
    ['tags.floor = true', []],
    ["status = 1", []],
    ['tags.location = tags.location', []],
    ["tags.location != 'x'", []],
    ['tags.nope = 1', []],
    ['tags.nope != 1', []],
    ['tags.nope = tags.nope', []],
    ['properties.reported.nothing != 1', []],
    // a condition that is not a boolean is not true
    ["'yes'", []],
    ['tags.floor', []],
    // NOT, and NOT of undefined staying undefined
    ["NOT tags.location.region = 'US'", ['d2']],
    ['NOT tags.nope = 1', []],
    ['NOT (tags.floor = 3)', ['d2', 'd5']],
    ["NOT NOT status = 'disabled'", ['d2']],
    // AND / OR with undefined operands
    ["tags.nope = 1 OR status = 'disabled'", ['d2']],
    ["status = 'disabled' OR tags.nope = 1", ['d2']],
    ["tags.nope = 1 AND status = 'enabled'", []],
    ["NOT (tags.nope = 1 AND status = 'disabled')", ['d1', 'd3', 'edge-4', 'd5']],
    ["NOT (tags.nope = 1 OR status = 'enabled')", []],
    // precedence: a OR (b AND c) versus (a OR b) AND c
    ["deviceId = 'd2' OR tags.floor = 3 AND status = 'enabled'", ['d1', 'd2']],
    ["(deviceId = 'd2' OR tags.floor = 3) AND status = 'enabled'", ['d1']],
    ["deviceId = 'd5' OR deviceId = 'd2' AND tags.floor = 3", ['d5']],
    // arithmetic
    ['tags.floor + 1 = 4', ['d1']],
    ['tags.floor - 1 = 0', ['d2']],
    ['tags.floor * 2 = 20', ['d5']],
    ['tags.floor / 2 = 1.5', ['d1']],
    ['tags.floor % 3 = 1', ['d2', 'd5']],
    ['-tags.floor = -10', ['d5']],
    ['1 + 2 * 3 = 7', ['d1', 'd2', 'd3', 'edge-4', 'd5']],
    ['(1 + 2) * 3 = 9', ['d1', 'd2', 'd3', 'edge-4', 'd5']],
    ['properties.reported.telemetryConfig.sendFrequencyInSecs / 60 >= 1', ['d1', 'd3']],
    ["tags.floor + 'x' = '3x'", []],
    ['tags.floor / 0 = 0', []],
    ['-status = 1', []],
    // IN / NIN / NOT IN
    ["properties.reported.connectivity.type IN ['wired', 'wifi']", ['d2', 'd3']],
    ["properties.reported.connectivity.type NIN ['wired', 'wifi']", ['d1']],
    ["properties.reported.connectivity.type NOT IN ['wired', 'wifi']", ['d1']],
    ['tags.floor IN [1, 10]', ['d2', 'd5']],
    ["tags.floor IN ['3']", ['d3']],
    ["tags.floor NIN ['3']", ['d1', 'd2', 'd5']],
    ['tags.location IN [1]', []],
    ['tags.location NIN [1]', []],
    ['tags.floor IN []', []],
    ['properties.reported.nothing IN [null]', ['d1']],
    // functions
    ['IS_DEFINED(tags.location)', ['d1', 'd2', 'd3', 'd5']],
    ['IS_DEFINED(properties.reported.nothing)', ['d1']],
    ['NOT is_defined(tags.location)', ['edge-4']],
    ['IS_NULL(properties.reported.nothing)', ['d1']],
    ['IS_NULL(tags.nope)', []],
    ['IS_STRING(tags.floor)', ['d3']],
    ['IS_NUMBER(tags.floor)', ['d1', 'd2', 'd5']],
    ['IS_BOOL(capabilities.iotEdge)', ['d1', 'd2', 'd3', 'edge-4', 'd5']],
    ['IS_OBJECT(tags.location)', ['d1', 'd2', 'd3', 'd5']],
    ['IS_OBJECT(tags.list)', []],
    ['IS_ARRAY(tags.list)', ['d1']],
    ['IS_PRIMITIVE(properties.reported.nothing) AND IS_PRIMITIVE(tags.floor)', ['d1']],
    ['IS_PRIMITIVE(tags.location)', []],
    ["STARTSWITH(deviceId, 'edge')", ['edge-4']],
    ["STARTS_WITH(deviceId, 'd')", ['d1', 'd2', 'd3', 'd5']],
    ["ENDSWITH(properties.reported.fw, '.0')", ['d3', 'd5']],
    ["ENDS_WITH(deviceId, '5')", ['d5']],
    ["STARTS_WITH(tags.floor, '3')", ['d3']],
    ["NOT STARTS_WITH(tags.floor, '3')", []],
    ["ARRAY_CONTAINS(tags.list, 'b')", ['d1']],
    ['ARRAY_CONTAINS(tags.list, 1)', []],
    ["ARRAY_CONTAINS(tags.location, 'US')", []],
    // paths: bracket keys, indexes, qualifiers
    ["tags['location']['region'] = 'EU'", ['d2']],
    ["tags.list[1] = 'b'", ['d1']],
    ['tags.list[0].k = 1', []],
    ['tags.list[2].k = 1', ['d1']],
    ["tags.list.k = 1", []],
    ["devices.tags.location.region = 'EU'", ['d2']],
    ['properties.reported.$version = 1', ['d1', 'd2', 'd3', 'edge-4', 'd5']],
    // property names are case-sensitive
    ["DeviceId = 'd1'", []],
    // string escapes
    ["tags.quote = 'it\\'s'", ['d1']],
    ['tags.quote = "it\'s"', ['d1']],
    ['tags.said = "say \\"hi\\""', ['d1']],
  ];
  for (const [condition, expected] of cases) {
    test(`WHERE ${condition}`, () => assert.deepEqual(matches(condition), expected));
  }

  test('ARRAY_CONTAINS compares objects by value', () => {
    assert.deepEqual(matches('ARRAY_CONTAINS(tags.list, tags.list[2])'), ['d1']);
  });
});

describe('query evaluation: results', () => {
  test('SELECT * returns the twins themselves, kind twin', () => {
    const result = run("SELECT * FROM devices WHERE deviceId = 'd2'");
    assert.equal(result.kind, 'twin');
    assert.equal(result.items.length, 1);
    assert.equal(result.items[0], FLEET[1]);
  });

  test('projections take the last path segment or the alias, and omit missing values', () => {
    const result = run("SELECT deviceId, tags.location.region, properties.reported.fw AS firmware FROM devices WHERE deviceId IN ['d1', 'edge-4']");
    assert.equal(result.kind, 'raw');
    assert.deepEqual(result.items, [{ deviceId: 'd1', region: 'US', firmware: '1.2' }, { deviceId: 'edge-4' }]);
  });

  test('projected objects, arrays and nulls are kept', () => {
    const result = run("SELECT tags.location, tags.list, properties.reported.nothing FROM devices WHERE deviceId = 'd1'");
    assert.deepEqual(result.items, [{ location: { region: 'US' }, list: ['a', 'b', { k: 1 }], nothing: null }]);
  });

  test('COUNT() counts the matching twins under the default name or the alias', () => {
    assert.deepEqual(run('SELECT COUNT() FROM devices'), { items: [{ numberOfDevices: 5 }], kind: 'raw' });
    assert.deepEqual(run("SELECT COUNT() AS enabled FROM devices WHERE status = 'enabled'").items, [{ enabled: 4 }]);
    assert.deepEqual(run("SELECT COUNT() AS n FROM devices WHERE deviceId = 'nobody'").items, [{ n: 0 }]);
  });

  test('GROUP BY: one row per value, twins without the property in a group of their own', () => {
    const result = run(
      'SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status',
    );
    assert.equal(result.kind, 'raw');
    assert.deepEqual(result.items, [
      { status: 'Success', numberOfDevices: 2 },
      { status: 'Pending', numberOfDevices: 1 },
      { status: 'Error', numberOfDevices: 1 },
      { numberOfDevices: 1 },
    ]);
  });

  test('GROUP BY several paths, with WHERE, default COUNT name', () => {
    const result = run("SELECT tags.location.region, status, COUNT() FROM devices WHERE IS_DEFINED(tags.location) GROUP BY tags.location.region, status");
    assert.deepEqual(result.items, [
      { region: 'US', status: 'enabled', numberOfDevices: 3 },
      { region: 'EU', status: 'disabled', numberOfDevices: 1 },
    ]);
  });

  test('GROUP BY keeps null apart from a missing property, and numbers apart from strings', () => {
    const twins = [{ v: null }, {}, { v: null }, { v: 3 }, { v: '3' }, { v: 3 }];
    assert.deepEqual(run('SELECT v, COUNT() AS n FROM devices GROUP BY v', twins).items, [
      { v: null, n: 2 },
      { n: 1 },
      { v: 3, n: 2 },
      { v: '3', n: 1 },
    ]);
  });

  test('GROUP BY without COUNT lists the distinct values', () => {
    assert.deepEqual(run('SELECT status FROM devices GROUP BY status').items, [{ status: 'enabled' }, { status: 'disabled' }]);
  });

  test('GROUP BY over no twins is empty', () => {
    assert.deepEqual(run("SELECT status, COUNT() FROM devices WHERE deviceId = 'x' GROUP BY status").items, []);
  });

  test('TOP limits twins, projections and groups', () => {
    assert.deepEqual(run('SELECT TOP 2 * FROM devices').items, FLEET.slice(0, 2));
    assert.deepEqual(run("SELECT TOP 1 deviceId FROM devices WHERE tags.location.region = 'US'").items, [{ deviceId: 'd1' }]);
    assert.deepEqual(run('SELECT TOP 2 properties.reported.fw AS fw, COUNT() AS n FROM devices GROUP BY properties.reported.fw').items, [
      { fw: '1.2', n: 1 },
      { fw: '1.3', n: 1 },
    ]);
    assert.deepEqual(run('SELECT TOP 0 * FROM devices').items, []);
    assert.equal(run('SELECT TOP 100 * FROM devices').items.length, 5);
  });

  test('TOP stops reading twins once it has enough', () => {
    function* twinsThenFailure(): Generator<object> {
      yield* FLEET.slice(0, 3);
      throw new Error('read past TOP');
    }
    assert.equal(run('SELECT TOP 2 * FROM devices', twinsThenFailure()).items.length, 2);
  });

  test('module twins, with devices. and devices.modules. qualifiers', () => {
    const scanning = run("SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' AND deviceId IN ['d1', 'device2']", MODULES);
    assert.equal(scanning.kind, 'twin');
    assert.deepEqual(scanning.items, [MODULES[0], MODULES[2]]);
    const projected = run("SELECT deviceId, moduleId FROM devices.modules WHERE devices.deviceId = 'd1' AND devices.modules.moduleId != 'm1'", MODULES);
    assert.deepEqual(projected.items, [{ deviceId: 'd1', moduleId: 'm2' }]);
  });

  test('keywords in any case run the same query', () => {
    const lower = run("select deviceId from devices where tags.location.region = 'US' and not tags.floor = 3").items;
    const upper = run("SELECT deviceId FROM devices WHERE tags.location.region = 'US' AND NOT tags.floor = 3").items;
    // d3's floor is the string '3': the comparison is undefined, and so is its negation.
    assert.deepEqual(lower, [{ deviceId: 'd5' }]);
    assert.deepEqual(upper, lower);
  });

  test('docs: twins in the US on a cellular connection', () => {
    const result = run("SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.connectivity.type = 'cellular'");
    assert.deepEqual(result.items, [FLEET[0]]);
  });

  test('docs: twins in the US sending at most once a minute', () => {
    const text = "SELECT * FROM devices\n  WHERE tags.location.region = 'US'\n    AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60";
    assert.deepEqual(run(text).items, [FLEET[0], FLEET[2]]);
  });

  test('docs: is_defined(properties.reported.connectivity)', () => {
    assert.equal(run('SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)').items.length, 3);
  });
});
