import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { BusNoResponder, BusTimeout, type MessageBus } from '../../src/ports/message-bus.js';

export interface BusNodes {
  /** The bus as each node sees it: node i publishes, subscribes, requests and serves through nodes[i]. */
  nodes: MessageBus[];
  /** Resolves once all that the nodes sent so far has taken effect everywhere: subscriptions, serves, takeovers. */
  settle(): Promise<void>;
  destroy(): Promise<void>;
}

export interface MessageBusHarness {
  name: string;
  /** `count` nodes on one bus, or undefined when the backend is unavailable and `t` was skipped. */
  create(count: number, t: TestContext): Promise<BusNodes | undefined>;
}

/** What handlers received, and a way to wait for it (deliveries are asynchronous). */
class Received<T> {
  readonly items: T[] = [];
  readonly add = (item: T): void => void this.items.push(item);

  async atLeast(count: number, withinMs = 3000): Promise<T[]> {
    const deadline = Date.now() + withinMs;
    while (this.items.length < count) {
      if (Date.now() > deadline) assert.fail(`expected ${count} deliveries within ${withinMs} ms, got ${this.items.length}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return this.items;
  }
}

/** A promise the test resolves when it likes: a responder still busy with a call. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

function text(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

function answering(reply: string): (payload: Buffer) => Promise<Buffer> {
  return async () => text(reply);
}

async function requestText(bus: MessageBus, subject: string, payload = 'x'): Promise<string> {
  return (await bus.request(subject, text(payload), 2000)).toString('utf8');
}

export function messageBusContract(harness: MessageBusHarness): void {
  function busTest(name: string, nodeCount: number, body: (cluster: BusNodes, nodes: MessageBus[]) => Promise<void>): void {
    test(name, async (t) => {
      const cluster = await harness.create(nodeCount, t);
      if (!cluster) return;
      try {
        await body(cluster, cluster.nodes);
      } finally {
        await cluster.destroy();
      }
    });
  }

  describe(`MessageBus contract: ${harness.name}`, () => {
    busTest('a notification reaches every subscriber of its subject on every node, and nobody else', 3, async (cluster, [n0, n1, n2]) => {
      const mail = new Received<string>();
      const other = new Received<string>();
      n0!.subscribe('c2d.mail.dev1', (p) => mail.add(`n0:${String(p)}`));
      n1!.subscribe('c2d.mail.dev1', (p) => mail.add(`n1a:${String(p)}`));
      n1!.subscribe('c2d.mail.dev1', (p) => mail.add(`n1b:${String(p)}`));
      n2!.subscribe('c2d.mail.dev1', (p) => mail.add(`n2:${String(p)}`));
      n2!.subscribe('c2d.mail.dev2', (p) => other.add(`n2:${String(p)}`));
      await cluster.settle();

      n0!.publish('c2d.mail.dev1');
      await mail.atLeast(4);
      n0!.publish('c2d.mail.dev2');
      await other.atLeast(1);
      await cluster.settle();
      assert.deepEqual([...mail.items].sort(), ['n0:undefined', 'n1a:undefined', 'n1b:undefined', 'n2:undefined']);
      assert.deepEqual(other.items, ['n2:undefined']);
    });

    busTest('payloads reach subscribers byte for byte, an empty one stays empty and an absent one absent', 2, async (cluster, [n0, n1]) => {
      const got = new Received<string | undefined>();
      n1!.subscribe('twins.desired.dev1', (p) => got.add(p?.toString('hex')));
      await cluster.settle();
      const big = randomBytes(64 * 1024);
      const sent = [big, text('{"patch":{"é":1},"version":2}'), Buffer.alloc(0), undefined, Buffer.from([0, 0, 255, 13, 10])];
      for (const payload of sent) n0!.publish('twins.desired.dev1', payload);
      assert.deepEqual(await got.atLeast(sent.length), sent.map((p) => p?.toString('hex')));
    });

    busTest('unsubscribing stops delivery to that subscription only, even for the same handler subscribed twice', 2, async (cluster, [n0, n1]) => {
      const got = new Received<string>();
      const handler = () => got.add('shared');
      const stopFirst = n1!.subscribe('feedback', handler);
      n1!.subscribe('feedback', handler);
      const stopOther = n1!.subscribe('feedback', () => got.add('other'));
      await cluster.settle();
      n0!.publish('feedback');
      await got.atLeast(3);

      stopFirst();
      stopOther();
      await cluster.settle();
      n0!.publish('feedback');
      await got.atLeast(4);
      await cluster.settle();
      assert.deepEqual([...got.items].sort(), ['other', 'shared', 'shared', 'shared']);
    });

    busTest('a request is answered by the responder, on another node or the same, bytes intact both ways', 2, async (cluster, [n0, n1]) => {
      n1!.serve('methods.call.dev1', async (payload) => Buffer.concat([text('re:'), payload]));
      await cluster.settle();
      const payload = randomBytes(100 * 1024);
      const reply = await n0!.request('methods.call.dev1', payload, 2000);
      assert.equal(reply.toString('hex'), Buffer.concat([text('re:'), payload]).toString('hex'));
      assert.equal((await n1!.request('methods.call.dev1', Buffer.alloc(0), 2000)).toString(), 're:');
    });

    busTest('a request nobody serves fails with BusNoResponder at once', 2, async (cluster, [n0, n1]) => {
      n1!.serve('methods.call.someone-else', answering('no'));
      n1!.subscribe('methods.call.dev1', () => assert.fail('a subscriber is no responder'));
      await cluster.settle();
      const started = performance.now();
      await assert.rejects(n0!.request('methods.call.dev1', text('x'), 5000), BusNoResponder);
      assert.ok(performance.now() - started < 200, `took ${performance.now() - started} ms`);
    });

    busTest('a reply slower than the timeout fails the request with BusTimeout', 2, async (cluster, [n0, n1]) => {
      const slow = gate();
      n1!.serve('methods.call.dev1', async () => {
        await slow.opened;
        return text('late');
      });
      await cluster.settle();
      const started = performance.now();
      try {
        await assert.rejects(n0!.request('methods.call.dev1', text('x'), 150), BusTimeout);
        const took = performance.now() - started;
        assert.ok(took >= 140 && took < 1000, `took ${took} ms`);
      } finally {
        slow.open();
      }
    });

    busTest("the responder's error fails the request with its message", 2, async (cluster, [n0, n1]) => {
      n1!.serve('methods.call.dev1', async () => {
        throw new Error('the handler broke');
      });
      await cluster.settle();
      await assert.rejects(n0!.request('methods.call.dev1', text('x'), 2000), /the handler broke/);
    });

    busTest('a newer serve on another node takes over: the older gets no more requests but finishes its call', 3, async (cluster, [n0, n1, n2]) => {
      const busy = gate();
      const oldCalls = new Received<string>();
      n0!.serve('methods.call.dev1', async (payload) => {
        oldCalls.add(payload.toString());
        await busy.opened;
        return text('old');
      });
      await cluster.settle();
      const inFlight = requestText(n1!, 'methods.call.dev1', 'first');
      await oldCalls.atLeast(1);

      n2!.serve('methods.call.dev1', answering('new'));
      await cluster.settle();
      const answers = await Promise.all(Array.from({ length: 20 }, () => requestText(n1!, 'methods.call.dev1')));
      assert.deepEqual(new Set(answers), new Set(['new']));
      busy.open();
      assert.equal(await inFlight, 'old');
      assert.deepEqual(oldCalls.items, ['first']);
    });

    busTest('a newer serve on the same node replaces the older, and stopping the older then changes nothing', 2, async (cluster, [n0, n1]) => {
      const stopOld = n1!.serve('methods.call.dev1', answering('old'));
      n1!.serve('methods.call.dev1', answering('new'));
      await cluster.settle();
      assert.deepEqual(new Set(await Promise.all(Array.from({ length: 10 }, () => requestText(n0!, 'methods.call.dev1')))), new Set(['new']));
      stopOld();
      await cluster.settle();
      assert.equal(await requestText(n0!, 'methods.call.dev1'), 'new');
    });

    busTest('stopping a serve another node took over leaves the newer one serving', 3, async (cluster, [n0, n1, n2]) => {
      const stopOld = n0!.serve('methods.call.dev1', answering('old'));
      await cluster.settle();
      n1!.serve('methods.call.dev1', answering('new'));
      await cluster.settle();
      stopOld();
      await cluster.settle();
      assert.equal(await requestText(n2!, 'methods.call.dev1'), 'new');
    });

    busTest('after the responder stops serving, requests fail with BusNoResponder', 2, async (cluster, [n0, n1]) => {
      const stop = n1!.serve('methods.call.dev1', answering('yes'));
      await cluster.settle();
      assert.equal(await requestText(n0!, 'methods.call.dev1'), 'yes');
      stop();
      stop();
      await cluster.settle();
      await assert.rejects(n0!.request('methods.call.dev1', text('x'), 2000), BusNoResponder);
    });

    busTest('of serves starting on two nodes at once, exactly one answers once they settle', 3, async (cluster, [n0, n1, n2]) => {
      const subjects = Array.from({ length: 10 }, (_, i) => `methods.call.dev${i}`);
      for (const subject of subjects) {
        n0!.serve(subject, answering('n0'));
        n1!.serve(subject, answering('n1'));
      }
      await cluster.settle();
      for (const subject of subjects) {
        const answers = new Set(await Promise.all(Array.from({ length: 10 }, () => requestText(n2!, subject))));
        assert.equal(answers.size, 1, `${subject} answered by ${[...answers].join(' and ')}`);
      }
    });

    busTest('subjects holding odd identity keys stay distinct and routable', 3, async (cluster, [n0, n1, n2]) => {
      const keys = ['dev.1*>/x y', 'dev', 'dev.1', 'dev%2E1', 'dev%2e1', 'dev 1', 'dev/1', 'dev.1*', 'dev.>', 'dev..1', 'dév', 'dev_1', 'dev-1', 'dev\t1', ''];
      const notified = new Received<string>();
      keys.forEach((key, i) => {
        (i % 2 === 0 ? n1! : n2!).serve(`methods.call.${key}`, answering(key));
        n2!.subscribe(`c2d.mail.${key}`, () => notified.add(key));
      });
      await cluster.settle();
      for (const key of keys) assert.equal(await requestText(n0!, `methods.call.${key}`), key);
      for (const key of keys) n0!.publish(`c2d.mail.${key}`);
      await notified.atLeast(keys.length);
      await cluster.settle();
      assert.deepEqual([...notified.items].sort(), [...keys].sort());
      await assert.rejects(n0!.request('methods.call.dev.2', text('x'), 2000), BusNoResponder);
    });

    busTest('500 concurrent requests across nodes are all answered, each with its own reply', 3, async (cluster, [n0, n1, n2]) => {
      n1!.serve('methods.call.a', async (payload) => {
        await new Promise((resolve) => setImmediate(resolve));
        return text(`a${payload.toString()}`);
      });
      n2!.serve('methods.call.b', async (payload) => text(`b${payload.toString()}`));
      await cluster.settle();
      const replies = await Promise.all(
        Array.from({ length: 500 }, (_, i) => n0!.request(i % 2 ? 'methods.call.a' : 'methods.call.b', text(String(i)), 5000)),
      );
      replies.forEach((reply, i) => assert.equal(reply.toString(), `${i % 2 ? 'a' : 'b'}${i}`));
    });
  });
}
