import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit } from '../../src/storage/sqlite/group-commit.js';

function doubling(fail?: Error) {
  return new GroupCommit<number, number>({
    commit: (items) => {
      if (fail) throw fail;
      return items.map((n) => 2 * n);
    },
    committed: () => undefined,
    maxBatch: 100,
  });
}

test('submitTo tells each receiver its result in submission order, promises and receivers alike', async () => {
  const writer = doubling();
  const heard: string[] = [];
  const receiver = (n: number) => ({ committed: (r: number) => heard.push(`${n}->${r}`), failed: () => heard.push(`${n} failed`) });
  writer.submitTo(1, receiver(1));
  const viaPromise = writer.submit(2).then((r) => heard.push(`2->${r}`));
  writer.submitTo(3, receiver(3));
  await viaPromise;
  await writer.settled();
  assert.deepEqual(heard, ['1->2', '3->6', '2->4']);
});

test("a receiver that throws does not keep the rest of its batch from hearing; its error surfaces on its own", async () => {
  const writer = doubling();
  const heard: number[] = [];
  const boom = new Error('receiver bug');
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException'); // node:test's own would fail the test
  try {
    const caught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    const throwing = { committed: () => { throw boom; }, failed: () => undefined };
    writer.submitTo(1, throwing);
    writer.submitTo(2, { committed: (r) => heard.push(r), failed: () => undefined });
    assert.equal(await caught, boom);
    assert.deepEqual(heard, [4]);
  } finally {
    for (const l of listeners) process.on('uncaughtException', l);
  }
});

test('a failed commit tells every receiver of the batch', async () => {
  const writer = doubling(new Error('disk full'));
  const failed = await new Promise<unknown[]>((resolve) => {
    const errors: unknown[] = [];
    const r = { committed: () => assert.fail('not committed'), failed: (err: unknown) => errors.push(err) === 2 && resolve(errors) };
    writer.submitTo(1, r);
    writer.submitTo(2, r);
  });
  assert.deepEqual(failed.map((e) => (e as Error).message), ['disk full', 'disk full']);
});
