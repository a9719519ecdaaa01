import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimTime, decodeClaim, encodeClaim, reactTo, type Claim } from '../../src/fabric/nats/takeover.js';

const WINDOW = 1000;
const mine: Claim = { id: 'node-b/1', at: 2_000, fresh: true };

test('a responder ignores its own claim', () => {
  assert.equal(reactTo({ ...mine, fresh: false }, mine, 5000, WINDOW), 'ignore');
});

test('a fresh claim heard after the window wins whatever its time says (the clocks may disagree)', () => {
  assert.equal(reactTo({ id: 'node-a/1', at: 1_000, fresh: true }, mine, WINDOW + 1, WINDOW), 'yield');
});

test('within the window, or for a non-fresh claim, the later start wins and the winner reasserts', () => {
  assert.equal(reactTo({ id: 'node-a/1', at: 1_000, fresh: true }, mine, 10, WINDOW), 'reassert');
  assert.equal(reactTo({ id: 'node-a/1', at: 3_000, fresh: true }, mine, 10, WINDOW), 'yield');
  assert.equal(reactTo({ id: 'node-a/1', at: 1_000, fresh: false }, mine, 60_000, WINDOW), 'reassert');
  assert.equal(reactTo({ id: 'node-a/1', at: 3_000, fresh: false }, mine, 60_000, WINDOW), 'yield');
});

test('a tie in time goes to the greater id, so both sides agree', () => {
  const a: Claim = { id: 'node-a/1', at: 2_000, fresh: true };
  assert.equal(reactTo(a, mine, 10, WINDOW), 'reassert');
  assert.equal(reactTo(mine, a, 10, WINDOW), 'yield');
});

test('claim times strictly increase within a process and follow the wall clock', () => {
  const before = Date.now() * 1000;
  const times = Array.from({ length: 100 }, claimTime);
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! > times[i - 1]!);
  assert.ok(times[0]! >= before && times[0]! < (Date.now() + 1000) * 1000);
});

test('claims survive the wire; anything else is no claim', () => {
  assert.deepEqual(decodeClaim(encodeClaim(mine)), mine);
  assert.equal(decodeClaim(Buffer.from('nonsense')), undefined);
  assert.equal(decodeClaim(Buffer.from('{"id":1,"at":2,"fresh":true}')), undefined);
});
