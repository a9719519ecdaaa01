// StreamPublisher against the real NATS JetStream on this machine: acknowledgements matched to their publishes,
// JetStream's refusals and missing answers turned into rejections.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { headers } from 'nats';
import { StreamPublisher } from '../../src/storage/nats/stream-publisher.js';
import { connectNats, natsSkipReason } from '../support/nats.js';

const nats = await connectNats();
after(() => nats.nc?.close());
const skip = natsSkipReason(nats);

describe('StreamPublisher', { skip }, () => {
  const name = `lzt-pub-${randomBytes(4).toString('hex')}`;
  const subject = `${name}.events`;

  after(async () => {
    if (nats.nc) await (await nats.nc.jetstreamManager()).streams.delete(name).catch(() => undefined);
  });

  test('each publish resolves with its own stream sequence, in order, headers stored', async () => {
    const nc = nats.nc!;
    await (await nc.jetstreamManager()).streams.add({ name, subjects: [subject] });
    const publisher = new StreamPublisher(nc, 5000);
    try {
      const h = headers();
      h.set('Lazuli-Test', 'yes');
      const acks = await Promise.all(Array.from({ length: 500 }, (_, i) => publisher.publish(subject, Buffer.from(`m${i}`), i === 7 ? h : undefined)));
      assert.deepEqual(
        acks.map((a) => a.seq),
        Array.from({ length: 500 }, (_, i) => i + 1),
      );
      assert.ok(acks.every((a) => a.stream === name));
      const stored = await (await nc.jetstreamManager()).streams.getMessage(name, { seq: 8 });
      assert.equal(Buffer.from(stored.data).toString(), 'm7');
      assert.equal(stored.header.get('Lazuli-Test'), 'yes');
    } finally {
      publisher.close();
    }
  });

  test('a subject no stream takes is refused at once (no responders)', async () => {
    const publisher = new StreamPublisher(nats.nc!, 5000);
    try {
      const started = Date.now();
      await assert.rejects(publisher.publish(`${name}-nobody.x`, Buffer.from('x')), /did not take the message: 503/);
      assert.ok(Date.now() - started < 2000);
    } finally {
      publisher.close();
    }
  });

  test('a publish nobody acknowledges times out; close rejects what still waits', async () => {
    const nc = nats.nc!;
    const silent = nc.subscribe(`${name}-silent.>`); // takes the message, never answers
    const publisher = new StreamPublisher(nc, 200);
    try {
      await assert.rejects(publisher.publish(`${name}-silent.a`, Buffer.from('x')), /within 200 ms/);
      const slow = new StreamPublisher(nc, 60_000);
      const waiting = slow.publish(`${name}-silent.b`, Buffer.from('y'));
      slow.close();
      await assert.rejects(waiting, /closed/);
    } finally {
      silent.unsubscribe();
      publisher.close();
    }
  });
});
