import { test } from 'node:test';

/**
 * `test()` for a contract suite: each test gets a fresh instance from the harness, destroyed afterwards whatever
 * happens, and a `skip(why)` for behaviour a backend cannot have (persistence, for in-memory backends).
 */
export function storeTestFor<I extends { destroy(): Promise<void> }>(harness: { create(): Promise<I> }) {
  return (name: string, body: (instance: I, skip: (why: string) => void) => Promise<void>): void => {
    test(name, async (t) => {
      const instance = await harness.create();
      try {
        await body(instance, (why) => t.skip(why));
      } finally {
        await instance.destroy();
      }
    });
  };
}
