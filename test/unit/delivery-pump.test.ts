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
