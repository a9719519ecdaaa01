import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePropertyBag, encodePropertyBag, PropertyBagError, type PropertyBagEntry } from '../../src/protocols/mqtt/property-bag.js';

/** [encoded, entries]: encodePropertyBag(entries) gives exactly `encoded`, and decoding `encoded` gives `entries`. */
const BOTH_WAYS: Array<[string, PropertyBagEntry[]]> = [
  ['', []],
  ['a=1', [['a', '1']]],
  ['flag', [['flag', null]]],
  ['empty=', [['empty', '']]],
  ['%24.mid=mid-1&%24.cid=cid%2F1', [['$.mid', 'mid-1'], ['$.cid', 'cid/1']]],
  ['temp%20alert=hi%26lo%3D1', [['temp alert', 'hi&lo=1']]],
  ['plus=a%2Bb', [['plus', 'a+b']]],
  ['pct=100%25', [['pct', '100%']]],
  ['unicode=%C3%A9%E2%82%AC%F0%9F%98%80', [['unicode', 'é€😀']]],
  ['stars=%2A%21%27%28%29', [['stars', "*!'()"]]],
  ['slash=%2F&q=%3F&hash=%23', [['slash', '/'], ['q', '?'], ['hash', '#']]],
  ['dup=1&dup=2', [['dup', '1'], ['dup', '2']]],
  ['safe=-_.~', [['safe', '-_.~']]],
];

/** Spellings other clients use that decode to the same entries, but that the encoder does not produce. */
const DECODE_ONLY: Array<[string, PropertyBagEntry[]]> = [
  ['$.mid=raw-dollar', [['$.mid', 'raw-dollar']]],
  ['plus=a+b', [['plus', 'a+b']]],
  ['lower=%2f%3a', [['lower', '/:']]],
  ['a=1&&b=2&', [['a', '1'], ['b', '2']]],
  ['eq=a=b', [['eq', 'a=b']]],
  ['stars=*!(\'', [['stars', "*!('"]]],
];

const MALFORMED = ['=value', 'a=%', 'a=%2', 'a=%zz', '%E0%A4%A=1', 'a=%C3', '&=x'];

describe('MQTT property bag codec', () => {
  for (const [encoded, entries] of BOTH_WAYS) {
    test(`both ways: "${encoded}"`, () => {
      assert.deepEqual(decodePropertyBag(encoded), entries);
      assert.equal(encodePropertyBag(entries), encoded);
    });
  }

  for (const [text, entries] of DECODE_ONLY) {
    test(`decodes "${text}"`, () => assert.deepEqual(decodePropertyBag(text), entries));
  }

  for (const text of MALFORMED) {
    test(`refuses "${text}"`, () => assert.throws(() => decodePropertyBag(text), PropertyBagError));
  }

  test('the encoder refuses an empty key', () => {
    assert.throws(() => encodePropertyBag([['', 'x']]), TypeError);
  });

  test('random entries survive encode then decode', () => {
    const alphabet = ['a', 'Z', '0', ' ', '&', '=', '%', '+', '/', '?', '#', '$', '.', '*', "'", 'é', '€', '😀', '\n'];
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const word = (min: number) => Array.from({ length: min + random(8) }, () => alphabet[random(alphabet.length)]).join('');
    for (let i = 0; i < 500; i++) {
      const entries: PropertyBagEntry[] = Array.from({ length: random(5) }, () => [word(1), random(4) === 0 ? null : word(0)]);
      assert.deepEqual(decodePropertyBag(encodePropertyBag(entries)), entries);
    }
  });
});
