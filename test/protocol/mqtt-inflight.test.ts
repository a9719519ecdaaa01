// PUBACK timing and backpressure, against a telemetry log whose appends become durable only when the test says so.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import type { LogAppend, LogEvent } from '../../src/ports/telemetry-log.js';
import { MemoryTelemetryLog } from '../../src/storage/memory/memory-telemetry-log.js';
import { duplexPair, startAdapterHarness } from './mqtt-adapter-harness.js';
import { createDevice, MqttTestClient } from './mqtt-test-client.js';

/** Appends wait at a gate; `release(i)` makes the i-th append (0-based, in call order) durable. */
class GatedLog extends MemoryTelemetryLog {
  readonly #gates: Array<{ open: () => void; opened: boolean }> = [];
  #arrived: (() => void) | undefined;
  fail = false;

  constructor() {
    super(1);
  }

  get started(): number {
    return this.#gates.length;
  }

  override async append(entry: LogAppend): Promise<LogEvent> {
    if (this.fail) throw new Error('disk on fire');
    await new Promise<void>((open) => {
      this.#gates.push({ open, opened: false });
      this.#arrived?.();
    });
    return super.append(entry);
  }

  release(i: number): void {
    const gate = this.#gates[i];
    assert.ok(gate && !gate.opened, `append ${i} is not waiting`);
    gate.opened = true;
    gate.open();
  }

  async waitForStarted(n: number): Promise<void> {
    while (this.started < n) await new Promise<void>((resolve) => (this.#arrived = resolve));
  }
}

function publish(deviceId: string, messageId: number): IPublishPacket {
  return { cmd: 'publish', topic: `devices/${deviceId}/messages/events/`, payload: Buffer.from(`m${messageId}`), qos: 1, messageId, dup: false, retain: false };
}

/** Nothing more arrives from the hub: a PINGREQ is answered and nothing came before its PINGRESP. */
async function assertNothingPending(client: MqttTestClient): Promise<void> {
  client.send({ cmd: 'pingreq' });
  await client.expect('pingresp');
}

describe('MQTT PUBACK only once durable', () => {
  test('no PUBACK while the message is not durable; PUBACK right after', async () => {
    const log = new GatedLog();
    const harness = await startAdapterHarness({ telemetryLog: log });
    const id = await createDevice(harness.hub, 'gated');
    const { client } = await harness.connect(id);
    client.send(publish(id.deviceId, 1));
    await log.waitForStarted(1);
    await assertNothingPending(client);
    assert.equal((await log.read(0, 0, 10)).length, 0);
    log.release(0);
    assert.equal((await client.expect('puback')).messageId, 1);
    assert.equal((await log.read(0, 0, 10)).length, 1);
    await harness.close();
  });

  test('messages that become durable out of order are acknowledged in PUBLISH order', async () => {
    const log = new GatedLog();
    const harness = await startAdapterHarness({ telemetryLog: log });
    const id = await createDevice(harness.hub, 'reorder');
    const { client } = await harness.connect(id);
    for (const n of [1, 2, 3]) client.send(publish(id.deviceId, n));
    await log.waitForStarted(3);
    log.release(2);
    log.release(1);
    await assertNothingPending(client);
    log.release(0);
    assert.deepEqual([(await client.expect('puback')).messageId, (await client.expect('puback')).messageId, (await client.expect('puback')).messageId], [1, 2, 3]);
    await harness.close();
  });

  test('reading pauses above the in-flight limit and resumes as messages become durable', async () => {
    const log = new GatedLog();
    const harness = await startAdapterHarness({ telemetryLog: log, adapter: { maxInflightPublishes: 10 } });
    const id = await createDevice(harness.hub, 'flood');
    const { client } = await harness.connect(id);
    const total = 100;
    for (let n = 1; n <= total; n++) client.send(publish(id.deviceId, n));
    await log.waitForStarted(11);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(log.started, 11, 'the hub read past the in-flight limit');
    for (let i = 0; i < total; i++) {
      await log.waitForStarted(i + 1);
      log.release(i);
    }
    for (let n = 1; n <= total; n++) assert.equal((await client.expect('puback')).messageId, n);
    assert.equal((await log.read(0, 0, 1000)).length, total);
    await harness.close();
  });

  test('a message the log fails to store closes the connection without a PUBACK', async () => {
    const log = new GatedLog();
    log.fail = true;
    const harness = await startAdapterHarness({ telemetryLog: log });
    const id = await createDevice(harness.hub, 'failing');
    const { client } = await harness.connect(id);
    client.send(publish(id.deviceId, 1));
    await client.expectClosed();
    assert.deepEqual(client.unread, []);
    await harness.close();
  });

  test('a connection that sends no CONNECT in time is closed', async () => {
    const harness = await startAdapterHarness({ adapter: { connectTimeoutMs: 150 } });
    const [server, clientSide] = duplexPair();
    harness.adapter.handle(server);
    const client = new MqttTestClient(clientSide);
    await client.expectClosed(2000);
    await harness.close();
  });
});
