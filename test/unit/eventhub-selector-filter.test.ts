import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StartPosition } from '../../src/ports/telemetry-log.js';
import { parseSelectorFilter, SelectorFilterError, selectorFilterOf } from '../../src/protocols/eventhub/selector-filter.js';

const PARSED: Array<[string | undefined, StartPosition]> = [
  [undefined, { kind: 'earliest' }],
  // What @azure/event-hubs writes.
  ["amqp.annotation.x-opt-offset > '-1'", { kind: 'earliest' }],
  ["amqp.annotation.x-opt-offset >= '-1'", { kind: 'earliest' }],
  ["amqp.annotation.x-opt-offset > '@latest'", { kind: 'latest' }],
  ["amqp.annotation.x-opt-offset > '@LATEST'", { kind: 'latest' }],
  ["amqp.annotation.x-opt-offset > '120'", { kind: 'offset', value: '120', inclusive: false }],
  ["amqp.annotation.x-opt-offset >= '120'", { kind: 'offset', value: '120', inclusive: true }],
  ["amqp.annotation.x-opt-sequence-number > '41'", { kind: 'sequenceNumber', value: 41, inclusive: false }],
  ["amqp.annotation.x-opt-sequence-number >= '41'", { kind: 'sequenceNumber', value: 41, inclusive: true }],
  ["amqp.annotation.x-opt-sequence-number > '-1'", { kind: 'sequenceNumber', value: -1, inclusive: false }],
  ["amqp.annotation.x-opt-enqueued-time > '1795688666001'", { kind: 'enqueuedTime', value: 1795688666001, inclusive: false }],
  ["amqp.annotation.x-opt-enqueued-time >= '1795688666001'", { kind: 'enqueuedTime', value: 1795688666001, inclusive: true }],
  // Other clients: no quotes, double quotes, other spacing and case.
  ['amqp.annotation.x-opt-sequence-number > 2995', { kind: 'sequenceNumber', value: 2995, inclusive: false }],
  ['amqp.annotation.x-opt-offset>=7', { kind: 'offset', value: '7', inclusive: true }],
  ['  AMQP.Annotation.X-Opt-Offset  >  "8"  ', { kind: 'offset', value: '8', inclusive: false }],
  ["amqp.annotation.x-opt-enqueued-time>'0'", { kind: 'enqueuedTime', value: 0, inclusive: false }],
  ['amqp.annotation.x-opt-offset > @latest', { kind: 'latest' }],
  ['amqp.annotation.x-opt-offset > -1', { kind: 'earliest' }],
];

const REFUSED: Array<[string, RegExp]> = [
  ['', /unsupported selector filter ""/],
  ["amqp.annotation.x-opt-offset < '5'", /unsupported selector filter/],
  ["amqp.annotation.x-opt-offset = '5'", /unsupported selector filter/],
  ["amqp.annotation.x-opt-partition-key > 'a'", /unsupported selector filter/],
  ["x-opt-offset > '5'", /unsupported selector filter/],
  ["amqp.annotation.x-opt-offset > 'abc'", /"abc" is not an offset this hub issued/],
  ["amqp.annotation.x-opt-offset > '-2'", /"-2" is not an offset/],
  ["amqp.annotation.x-opt-offset > '1.5'", /not an offset/],
  ["amqp.annotation.x-opt-sequence-number > 'ten'", /"ten" is not a valid sequence number/],
  ["amqp.annotation.x-opt-sequence-number > '99999999999999999999'", /not a valid sequence number/],
  ["amqp.annotation.x-opt-enqueued-time > '2024-01-01T00:00:00Z'", /not a valid enqueued time/],
  ["amqp.annotation.x-opt-offset > '5' AND 1=1", /unsupported selector filter/],
  ["amqp.annotation.x-opt-offset > '5", /unsupported selector filter/],
];

describe('selector filters', () => {
  for (const [expression, expected] of PARSED) {
    test(`${JSON.stringify(expression)} starts at ${JSON.stringify(expected)}`, () => assert.deepEqual(parseSelectorFilter(expression), expected));
  }
  for (const [expression, message] of REFUSED) {
    test(`${JSON.stringify(expression)} is refused`, () => {
      assert.throws(() => parseSelectorFilter(expression), (err: unknown) => err instanceof SelectorFilterError && message.test(err.message));
    });
  }
});

describe('the selector filter of a link source', () => {
  const key = 'apache.org:selector-filter:string';
  test('absent source, filter set or selector', () => {
    assert.equal(selectorFilterOf(undefined), undefined);
    assert.equal(selectorFilterOf({ address: 'a' }), undefined);
    assert.equal(selectorFilterOf({ address: 'a', filter: { 'other:filter': 'x' } }), undefined);
  });
  test('as rhea unwraps it, or still described', () => {
    assert.equal(selectorFilterOf({ address: 'a', filter: { [key]: "amqp.annotation.x-opt-offset > '1'" } }), "amqp.annotation.x-opt-offset > '1'");
    assert.equal(selectorFilterOf({ address: 'a', filter: { [key]: { descriptor: 1, value: 'expr' } } }), 'expr');
  });
  test('a selector that is not a string is refused', () => {
    assert.throws(() => selectorFilterOf({ address: 'a', filter: { [key]: 42 } }), SelectorFilterError);
  });
});
