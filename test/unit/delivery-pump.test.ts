import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeliveryPump } from '../../src/core/c2d/delivery-pump.js';

/** A queue of numbers behind a pump, recording every receive; the sink takes up to `room` items. */
function setUp(queued: number, room: number) {
  const queue = Array.from({ length: queued }, (_, i) => i);
  const asked: number[] = [];
  const delivered: number[] = [];
  const unwanted: number[] = [];
  const pump = new DeliveryPump<number>({
    receive: async (max) => {
      asked.push(max);
      return queue.splice(0, max);
    },
    watch: () => () => undefined,
    sink: { capacity: () => room - delivered.length, deliver: (n) => delivered.push(n) },
    rescanMs: 60_000,
    failed: (err) => assert.fail(String(err)),
    unwanted: (n) => unwanted.push(n),
  });
  return { queue, asked, delivered, unwanted, pump };
}

const settle = () => new Promise((r) => setImmediate(r));

test('a backlog drains in doubling batches, in order, never beyond the sink room', async () => {
  const { asked, delivered, pump } = setUp(100, 80);
  pump.start();
  for (let i = 0; i < 20; i++) await settle();
  pump.stop();
  assert.deepEqual(delivered, Array.from({ length: 80 }, (_, i) => i));
  assert.deepEqual(asked, [1, 1, 2, 4, 8, 16, 32, 16]);
});

test('a queue that holds one item at a time costs a single-item receive per item, and one that finds nothing', async () => {
  const { queue, asked, delivered, pump } = setUp(1, 16);
  pump.start();
  await settle();
  queue.push(1);
  pump.wake();
  await settle();
  pump.stop();
  assert.deepEqual(delivered, [0, 1]);
  assert.deepEqual(asked, [1, 1, 1, 1]);
});

test('items locked after stop are handed back, not delivered', async () => {
  const { delivered, unwanted, pump } = setUp(3, 10);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const original = (pump as unknown as { options: { receive: (max: number) => Promise<number[]> } }).options;
  const receive = original.receive;
  original.receive = async (max) => {
    await gate;
    return receive(max);
  };
  pump.start();
  pump.stop();
  release();
  await settle();
  await settle();
  assert.deepEqual(delivered, []);
  assert.deepEqual(unwanted, [0]);
});

test('room in the sink alone does not send a drained pump to the store; a wake or a full receive does', async () => {
  const { queue, asked, pump } = setUp(0, 1);
  pump.start();
  await settle();
  assert.deepEqual(asked, [1], 'the first look finds nothing');
  pump.roomFreed();
  await settle();
  assert.deepEqual(asked, [1], 'drained: room alone asks nothing');
  queue.push(7);
  pump.wake();
  await settle();
  assert.deepEqual(asked, [1, 1], 'a wake asks');
  pump.stop();
});

test('a pump that found all it asked for asks again when room frees', async () => {
  const { queue, asked, delivered, pump } = setUp(3, 1);
  pump.start();
  await settle();
  assert.deepEqual(delivered, [0]);
  delivered.length = 0; // the sink took it: room again
  pump.roomFreed();
  await settle();
  assert.deepEqual(asked, [1, 1], 'the queue may hold more');
  assert.deepEqual(queue, [2]);
  pump.stop();
});

test('an item handed directly is delivered; no receive starts while the pump is reserved, and a wake meanwhile is served after', async () => {
  const { queue, asked, delivered, pump } = setUp(0, 16);
  pump.start();
  await settle();
  assert.equal(pump.reserve(), true);
  assert.equal(pump.reserve(), false, 'one reservation at a time');
  queue.push(2);
  pump.wake(); // a later item's notification while the first is being stored
  await settle();
  assert.deepEqual(asked, [1], 'held back while reserved');
  pump.take(1);
  await settle();
  assert.deepEqual(delivered, [1, 2], 'the direct item first, then what the wake found');
  pump.stop();
});

test('a pump cannot be reserved while it receives, without room, or stopped; a reservation may end with nothing', async () => {
  const { delivered, pump } = setUp(1, 1);
  assert.equal(pump.reserve(), false, 'not started');
  pump.start(); // receiving now
  assert.equal(pump.reserve(), false, 'receiving');
  await settle();
  assert.deepEqual(delivered, [0]);
  assert.equal(pump.reserve(), false, 'the sink is full');
  delivered.length = 0;
  assert.equal(pump.reserve(), true);
  pump.take(undefined);
  await settle(); // its last receive was full, so it looks again now, and finds nothing
  assert.equal(pump.reserve(), true, 'free again');
  pump.stop();
  pump.take(9);
  assert.deepEqual(delivered, [], 'stopped meanwhile: not delivered');
});
