import { connect, type NatsConnection } from 'nats';

/** The NATS server (with JetStream) the tests use; LAZULI_TEST_NATS_URL names another, as for the bus tests. */
export const NATS_SERVER = process.env.LAZULI_TEST_NATS_URL ?? '127.0.0.1:4222';

export type NatsForTests = { nc: NatsConnection; unavailable?: undefined } | { nc?: undefined; unavailable: string };

/** One connection with JetStream for a test file, which closes it in an after() hook; or why there is none. */
export async function connectNats(server = NATS_SERVER): Promise<NatsForTests> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: server, timeout: 2000 });
    // Fails unless the server has JetStream enabled for the account.
    await nc.jetstreamManager();
    return { nc };
  } catch (err) {
    await nc?.close();
    return { unavailable: `NATS at ${server} is unreachable: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * Why tests that need NATS cannot run, or undefined when they can. In CI (CI=true) the reason is thrown instead:
 * there the tests fail rather than pass by skipping.
 */
export function natsSkipReason(nats: NatsForTests): string | undefined {
  if (nats.unavailable === undefined) return undefined;
  if (process.env.CI === 'true') throw new Error(nats.unavailable);
  return nats.unavailable;
}
