import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPrefix, decodeSubject, encodeSubject } from '../../src/fabric/nats/subject-encoding.js';

const SUBJECTS = ['methods.call.dev1', 'methods.call.dev.1*>/x y', 'c2d.mail.dev%2E1', 'c2d.mail.dev%2e1', 'a..b', '', '.', 'dév/módulo', 'tab\there', 'emoji 🚀', '%', '%%', '_-'];

test('every bus subject encodes to valid NATS tokens and decodes back', () => {
  for (const subject of SUBJECTS) {
    const encoded = encodeSubject(subject);
    for (const token of encoded.split('.')) assert.match(token, /^[A-Za-z0-9_%-]+$/, `${JSON.stringify(subject)} -> ${encoded}`);
    assert.equal(decodeSubject(encoded), subject);
  }
});

test('distinct subjects never share an encoding', () => {
  const encodings = SUBJECTS.map(encodeSubject);
  assert.equal(new Set(encodings).size, SUBJECTS.length);
});

test('plain parts stay readable; dots between parts stay token separators', () => {
  assert.equal(encodeSubject('methods.call.dev-1_a'), 'methods.call.dev-1_a');
  assert.equal(encodeSubject('methods.call.dev.1*>/x y'), 'methods.call.dev.1%2A%3E%2Fx%20y');
  assert.equal(encodeSubject('c2d..x.'), 'c2d.%.x.%');
});

test('decoding refuses what encoding never makes', () => {
  for (const bad of ['dev%2e1', 'dev%41', 'dev%', 'dev%zz', 'dév', 'a*', 'a..b']) assert.throws(() => decodeSubject(bad), /no encoded subject part/, bad);
});

test('a prefix must be plain tokens', () => {
  assert.equal(checkPrefix('lazuli.hub-1'), 'lazuli.hub-1');
  for (const bad of ['', 'a.', 'a b', 'a.*', '>', 'a%b']) assert.throws(() => checkPrefix(bad), /prefix/, bad);
});
