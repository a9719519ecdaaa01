import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit } from '../../src/storage/sqlite/group-commit.js';

const PACING = { minIntervalMs: 20, fromBatch: 4 };

/** A group commit that records when each batch was committed and how big it was. */
function recorder() {
  const batches: Array<{ at: number; size: number }> = [];
  const writer = new GroupCommit<number, number>({
    commit: (items) => {
      batches.push({ at: performance.now(), size: items.length });
      return [...items];
    },
    committed: () => undefined,
    maxBatch: 1000,
    pacing: PACING,
  });
  return { writer, batches };
}

test('pacing: after a batch of several writers the next batch waits out the interval, and gathers what came meanwhile', async () => {
  const { writer, batches } = recorder();
  await Promise.all(Array.from({ length: 5 }, (_, i) => writer.submit(i)));
  // Submitted one by one over ~10 ms: without the pacing each would make a batch of its own.
  const later: Array<Promise<number>> = [];
  for (let i = 0; i < 5; i++) {
    later.push(writer.submit(i));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.deepEqual(await Promise.all(later), [0, 1, 2, 3, 4]);
  assert.deepEqual(batches.map((b) => b.size), [5, 5]);
  assert.ok(batches[1]!.at - batches[0]!.at >= PACING.minIntervalMs - 1, `second batch ${batches[1]!.at - batches[0]!.at} ms after the first`);
  await writer.close();
});

test('pacing: a writer alone, waiting for each write before the next, is never held back', async () => {
  const { writer, batches } = recorder();
  const started = performance.now();
  for (let i = 0; i < 20; i++) assert.equal(await writer.submit(i), i);
  const elapsed = performance.now() - started;
  assert.ok(batches.every((b) => b.size === 1));
  // Paced, 20 writes would take at least 19 intervals (380 ms); unpaced they take a few event-loop turns each.
  assert.ok(elapsed < 10 * PACING.minIntervalMs, `20 serial writes took ${elapsed.toFixed(1)} ms`);
  await writer.close();
});

test('pacing: close commits what waits for the interval at once', async () => {
  const { writer, batches } = recorder();
  await Promise.all(Array.from({ length: 4 }, (_, i) => writer.submit(i)));
  const waiting = writer.submit(99);
  const closedAt = performance.now();
  await writer.close();
  assert.equal(await waiting, 99);
  assert.equal(batches.length, 2);
  assert.ok(batches[1]!.at - closedAt < PACING.minIntervalMs / 2, 'not held for the interval');
});
