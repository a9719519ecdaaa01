import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { connect } from 'nats';

/** The NATS server the bus tests use; LAZULI_TEST_NATS_URL names another. */
export const NATS_URL = process.env.LAZULI_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

let probe: Promise<string | undefined> | undefined;

/** Why NATS cannot be used, or undefined when it answers; asked once per process. */
function whyUnreachable(): Promise<string | undefined> {
  probe ??= connect({ servers: NATS_URL, timeout: 1000, reconnect: false }).then(
    async (nc) => {
      await nc.close();
      return undefined;
    },
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
  return probe;
}

/**
 * True when the test can use NATS. Otherwise skips `t` and returns false — or, on CI, throws: a CI run must not go
 * green by skipping what it was meant to test.
 */
export async function natsAvailable(t: TestContext): Promise<boolean> {
  const why = await whyUnreachable();
  if (why === undefined) return true;
  const message = `NATS at ${new URL(NATS_URL).host} is unreachable: ${why}`;
  if (process.env.CI === 'true') throw new Error(message);
  t.skip(message);
  return false;
}

/** A subject prefix no other test (or hub) shares. */
export function testSubjectPrefix(): string {
  return `lazuli-test.${randomUUID()}`;
}
