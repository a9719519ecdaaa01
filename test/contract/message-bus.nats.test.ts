import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { NatsBus, type NatsBusOptions } from '../../src/fabric/nats/nats-bus.js';
import { encodeSubject } from '../../src/fabric/nats/subject-encoding.js';
import { BusNoResponder } from '../../src/ports/message-bus.js';
import { NATS_URL, natsAvailable, testSubjectPrefix } from '../support/nats-bus-connection.js';
import { messageBusContract, type BusNodes } from './message-bus.contract.js';

async function connectBuses(count: number, prefix = testSubjectPrefix(), options: Partial<NatsBusOptions> = {}): Promise<NatsBus[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      NatsBus.connect({ servers: NATS_URL, prefix, name: `lazuli-test-node-${i}`, closeGraceMs: 500, ...options }),
    ),
  );
}

/** Four round trips on every connection: enough for a message, the reaction to it, and the reaction to that. */
async function settle(buses: NatsBus[]): Promise<void> {
  for (let round = 0; round < 4; round++) await Promise.all(buses.map((bus) => bus.flush()));
}

async function nodes(
  count: number,
  t: TestContext,
  options: Partial<NatsBusOptions> = {},
): Promise<(BusNodes & { buses: NatsBus[]; prefix: string }) | undefined> {
  if (!(await natsAvailable(t))) return undefined;
  const prefix = testSubjectPrefix();
  const buses = await connectBuses(count, prefix, options);
  return {
    buses,
    prefix,
    nodes: buses,
    settle: () => settle(buses),
    destroy: async () => void (await Promise.all(buses.map((bus) => bus.close()))),
  };
}

messageBusContract({ name: 'nats', create: (count, t) => nodes(count, t) });

/** A plain client beside the buses, to see and make what they put on the wire. */
async function rawClient(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL });
}

describe('NatsBus', () => {
  test('puts notifications, calls and claims under its prefix, one token per part of the subject', async (t) => {
    const cluster = await nodes(1, t);
    if (!cluster) return;
    const raw = await rawClient();
    try {
      const seen: string[] = [];
      raw.subscribe(`${cluster.prefix}.>`, { callback: (_err, msg) => seen.push(msg.subject.slice(cluster.prefix.length + 1)) });
      await raw.flush();
      const [bus] = cluster.buses;
      bus!.serve('methods.call.dev.1*>/x y', async (payload) => payload);
      bus!.publish('c2d.mail.dev.1*>/x y');
      await bus!.request('methods.call.dev.1*>/x y', Buffer.from('x'), 2000);
      await settle([...cluster.buses]);
      await raw.flush();
      assert.deepEqual(seen, ['takeover.methods.call.dev.1%2A%3E%2Fx%20y', 'note.c2d.mail.dev.1%2A%3E%2Fx%20y', 'call.methods.call.dev.1%2A%3E%2Fx%20y']);
    } finally {
      await raw.close();
      await cluster.destroy();
    }
  });

  test('hubs with different prefixes share a server without meeting', async (t) => {
    if (!(await natsAvailable(t))) return;
    const [a] = await connectBuses(1);
    const [b] = await connectBuses(1);
    try {
      const heard: string[] = [];
      b!.subscribe('c2d.mail.dev1', () => heard.push('b'));
      a!.serve('methods.call.dev1', async () => Buffer.from('a'));
      await settle([a!, b!]);
      a!.publish('c2d.mail.dev1');
      await assert.rejects(b!.request('methods.call.dev1', Buffer.from('x'), 2000), BusNoResponder);
      await settle([a!, b!]);
      assert.deepEqual(heard, []);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  /** n1 of two nodes serving `methods.call.dev1`, and every claim on its takeover subject as a plain client sees it. */
  async function watchedResponder(t: TestContext, options: Partial<NatsBusOptions> = {}) {
    const cluster = await nodes(2, t, options);
    if (!cluster) return undefined;
    const raw = await rawClient();
    const takeover = `${cluster.prefix}.takeover.${encodeSubject('methods.call.dev1')}`;
    const claims: { id: string; at: number; fresh: boolean }[] = [];
    raw.subscribe(takeover, {
      callback: (_err, msg) => {
        try {
          claims.push(msg.json());
        } catch {
          // the garbage a test sends itself
        }
      },
    });
    await raw.flush();
    const [n0, n1] = cluster.buses;
    n1!.serve('methods.call.dev1', async () => Buffer.from('n1'));
    await cluster.settle();
    await raw.flush();
    assert.equal(claims.length, 1);
    assert.equal(claims[0]!.fresh, true);
    return {
      claims,
      mine: claims[0]!,
      /** Sends `bytes` on the takeover subject and waits for whatever the buses do about it. */
      async inject(bytes: Buffer) {
        raw.publish(takeover, bytes);
        await raw.flush();
        await cluster.settle();
        await raw.flush();
      },
      served: async () => (await n0!.request('methods.call.dev1', Buffer.from('x'), 2000)).toString(),
      async destroy() {
        await raw.close();
        await cluster.destroy();
      },
    };
  }

  const claim = (c: object) => Buffer.from(JSON.stringify(c));

  test('a responder keeps serving against earlier claims, reasserting its own so their makers yield, and yields to a later one', async (t) => {
    const w = await watchedResponder(t);
    if (!w) return;
    try {
      // Crossing on the wire with ours: another node started serving a moment before.
      await w.inject(claim({ id: 'crossing/1', at: w.mine.at - 1, fresh: true }));
      // A node back from a disconnect, claiming again what it served long ago.
      await w.inject(claim({ id: 'node-back/1', at: 1, fresh: false }));
      await w.inject(Buffer.from('not a claim'));
      const ids = w.claims.map((c) => `${c.id === w.mine.id ? 'mine' : c.id}${c.fresh ? '' : ' again'}`);
      assert.deepEqual(ids, ['mine', 'crossing/1', 'mine again', 'node-back/1 again', 'mine again']);
      assert.equal(await w.served(), 'n1');

      await w.inject(claim({ id: 'node-new/1', at: w.mine.at + 1, fresh: false }));
      await assert.rejects(w.served(), BusNoResponder);
    } finally {
      await w.destroy();
    }
  });

  test('a fresh claim heard well after the responder started wins, even when its clock says earlier', async (t) => {
    const w = await watchedResponder(t, { takeoverWindowMs: 50 });
    if (!w) return;
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await w.inject(claim({ id: 'late-clock/1', at: w.mine.at - 5_000_000, fresh: true }));
      await assert.rejects(w.served(), BusNoResponder);
    } finally {
      await w.destroy();
    }
  });

  test('closing waits for the requests it is answering', async (t) => {
    const cluster = await nodes(2, t);
    if (!cluster) return;
    try {
      const [n0, n1] = cluster.buses;
      let started!: () => void;
      const handling = new Promise<void>((resolve) => (started = resolve));
      n1!.serve('methods.call.dev1', async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 100));
        return Buffer.from('done');
      });
      await cluster.settle();
      const reply = n0!.request('methods.call.dev1', Buffer.from('x'), 2000);
      await handling;
      await n1!.close();
      assert.equal((await reply).toString(), 'done');
    } finally {
      await cluster.destroy();
    }
  });
});
