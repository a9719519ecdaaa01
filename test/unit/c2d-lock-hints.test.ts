import assert from 'node:assert/strict';
import { test } from 'node:test';
import { C2dLockHints, type LockHint } from '../../src/storage/sqlite/c2d-lock-hints.js';

function hint(deviceId: string, moduleId: string, until: number): LockHint {
  return { deviceId, moduleId, sequenceNumber: 7, ack: 'full', generationId: 'g', messageId: 'm', until };
}

test('a hint is handed out once, and only for the queue its lock was granted on', () => {
  const hints = new C2dLockHints();
  const granted = hint('dev-1', '', 100);
  hints.remember('t1', granted);
  assert.equal(hints.take('t1', { deviceId: 'dev-2', moduleId: '' }), undefined, 'another device');
  assert.equal(hints.take('t1', { deviceId: 'dev-1', moduleId: 'mod' }), undefined, 'a module of the device');
  assert.equal(hints.take('t2', { deviceId: 'dev-1', moduleId: '' }), undefined, 'another token');
  assert.deepEqual(hints.take('t1', { deviceId: 'dev-1', moduleId: '' }), granted);
  assert.equal(hints.take('t1', { deviceId: 'dev-1', moduleId: '' }), undefined, 'taken already');
});

test('forget drops one hint; forgetEnded drops those whose lock ended by then', () => {
  const hints = new C2dLockHints();
  hints.remember('ends-at-100', hint('a', '', 100));
  hints.remember('ends-at-101', hint('b', '', 101));
  hints.remember('released', hint('c', '', 500));
  hints.forget('released');
  hints.forgetEnded(100);
  assert.equal(hints.size, 1);
  assert.equal(hints.take('ends-at-100', { deviceId: 'a', moduleId: '' }), undefined);
  assert.equal(hints.take('ends-at-101', { deviceId: 'b', moduleId: '' })?.until, 101);
});
