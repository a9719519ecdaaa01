import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AmqpError } from 'rhea';
import { ReceiverOwnership, type Admission, type OwnedReceiver } from '../../src/protocols/eventhub/receiver-ownership.js';

class FakeReceiver implements OwnedReceiver {
  alive = true;
  evictedWith: AmqpError | undefined;
  constructor(readonly epoch: number | undefined) {}
  isAlive(): boolean {
    return this.alive;
  }
  evict(error: AmqpError): void {
    this.evictedWith = error;
    this.alive = false;
  }
}

function admitted(a: Admission): asserts a is Extract<Admission, { admitted: true }> {
  assert.equal(a.admitted, true, a.admitted ? '' : a.error.description);
}

function refusedWith(a: Admission, condition: string, description: RegExp): void {
  assert.equal(a.admitted, false);
  if (!a.admitted) {
    assert.equal(a.error.condition, condition);
    assert.match(a.error.description ?? '', description);
  }
}

describe('receiver ownership by epoch', () => {
  test('a higher or equal epoch evicts the current owner with amqp:link:stolen', () => {
    const ownership = new ReceiverOwnership();
    const first = new FakeReceiver(1);
    admitted(ownership.admit('$Default', '0', first));
    const equal = new FakeReceiver(1);
    admitted(ownership.admit('$Default', '0', equal));
    assert.equal(first.evictedWith?.condition, 'amqp:link:stolen');
    assert.match(first.evictedWith?.description ?? '', /epoch 1/);
    const higher = new FakeReceiver(5);
    admitted(ownership.admit('$default', '0', higher));
    assert.equal(equal.evictedWith?.condition, 'amqp:link:stolen', 'consumer groups compare case-insensitively');
    assert.equal(ownership.count('$DEFAULT', '0'), 1);
  });

  test('a lower epoch is refused and the owner keeps reading', () => {
    const ownership = new ReceiverOwnership();
    const owner = new FakeReceiver(7);
    admitted(ownership.admit('cg', '1', owner));
    refusedWith(ownership.admit('cg', '1', new FakeReceiver(6)), 'amqp:link:stolen', /epoch 7 already exists.*epoch 6 cannot attach/);
    assert.equal(owner.evictedWith, undefined);
  });

  test('epoch 0 (what checkpointing processors send) is an epoch', () => {
    const ownership = new ReceiverOwnership();
    admitted(ownership.admit('cg', '1', new FakeReceiver(0)));
    refusedWith(ownership.admit('cg', '1', new FakeReceiver(undefined)), 'amqp:link:stolen', /epoch 0/);
  });

  test('a receiver without an epoch is refused while an epoch receiver reads', () => {
    const ownership = new ReceiverOwnership();
    admitted(ownership.admit('cg', '1', new FakeReceiver(2)));
    refusedWith(ownership.admit('cg', '1', new FakeReceiver(undefined)), 'amqp:link:stolen', /without an epoch cannot attach/);
  });

  test('an epoch receiver takes the partition from every receiver without an epoch', () => {
    const ownership = new ReceiverOwnership();
    const readers = [new FakeReceiver(undefined), new FakeReceiver(undefined)];
    for (const r of readers) admitted(ownership.admit('cg', '2', r));
    admitted(ownership.admit('cg', '2', new FakeReceiver(0)));
    for (const r of readers) assert.equal(r.evictedWith?.condition, 'amqp:link:stolen');
    assert.equal(ownership.count('cg', '2'), 1);
  });

  test('at most five receivers without an epoch; the sixth gets amqp:resource-limit-exceeded', () => {
    const ownership = new ReceiverOwnership();
    const readers = Array.from({ length: 5 }, () => new FakeReceiver(undefined));
    for (const r of readers) admitted(ownership.admit('cg', '3', r));
    refusedWith(ownership.admit('cg', '3', new FakeReceiver(undefined)), 'amqp:resource-limit-exceeded', /most readers without an epoch \(5\)/);
    admitted(ownership.admit('other', '3', new FakeReceiver(undefined)));
    admitted(ownership.admit('cg', '2', new FakeReceiver(undefined)));
  });

  test('released and dead receivers free their place', () => {
    const ownership = new ReceiverOwnership(2);
    const a = ownership.admit('cg', '0', new FakeReceiver(undefined));
    const dead = new FakeReceiver(undefined);
    admitted(a);
    admitted(ownership.admit('cg', '0', dead));
    refusedWith(ownership.admit('cg', '0', new FakeReceiver(undefined)), 'amqp:resource-limit-exceeded', /\(2\)/);
    a.release();
    admitted(ownership.admit('cg', '0', new FakeReceiver(undefined)));
    dead.alive = false;
    admitted(ownership.admit('cg', '0', new FakeReceiver(undefined)));
    assert.equal(ownership.count('cg', '0'), 2);
  });

  test('a dead epoch owner no longer blocks receivers without an epoch', () => {
    const ownership = new ReceiverOwnership();
    const owner = new FakeReceiver(9);
    admitted(ownership.admit('cg', '0', owner));
    owner.alive = false;
    admitted(ownership.admit('cg', '0', new FakeReceiver(undefined)));
  });
});
