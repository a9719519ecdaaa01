import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import device from 'azure-iot-device';
import amqpTransport from 'azure-iot-device-amqp';
import httpTransport from 'azure-iot-device-http';
import mqttTransport from 'azure-iot-device-mqtt';
import iothub from 'azure-iothub';
import type { AzureSuite } from './azure-sdk.test.js';

const TRANSPORTS = {
  Mqtt: mqttTransport.Mqtt,
  MqttWs: mqttTransport.MqttWs,
  Amqp: amqpTransport.Amqp,
  AmqpWs: amqpTransport.AmqpWs,
  Http: httpTransport.Http,
} as const;

/**
 * Issue 3's "done when": the device SDK over every transport sends messages with properties, and the unmodified
 * EventHubConsumerClient receives every one with body, properties and annotations intact, in order per device.
 */
export function telemetryScenarios(suite: AzureSuite): void {
  test('every device transport delivers telemetry that EventHubConsumerClient reads back intact and in order', async () => {
    const registry = iothub.Registry.fromConnectionString(suite.serviceConnectionString());
    const sent = new Map<string, string[]>();
    for (const [name, Transport] of Object.entries(TRANSPORTS)) {
      const deviceId = `tel-${name.toLowerCase()}`;
      const created = (await registry.create({ deviceId })).responseBody;
      const cs = `HostName=localhost;DeviceId=${deviceId};SharedAccessKey=${created.authentication?.symmetricKey?.primaryKey}`;
      const client = device.Client.fromConnectionString(cs, Transport as never);
      try {
        await client.open();
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const message = new device.Message(JSON.stringify({ transport: name, i }));
          message.messageId = `${deviceId}-${i}`;
          message.correlationId = 'corr-1';
          message.contentType = 'application/json';
          message.contentEncoding = 'utf-8';
          message.properties.add('level', i === 2 ? 'high' : 'low');
          message.properties.add('odd-chars', 'a&b=c/d %24');
          await client.sendEvent(message);
          ids.push(message.messageId);
        }
        sent.set(deviceId, ids);
      } finally {
        await client.close();
      }
    }

    const consumer = new EventHubConsumerClient('$Default', suite.eventHubConnectionString());
    const received = new Map<string, ReceivedEventData[]>();
    const total = [...sent.values()].reduce((n, ids) => n + ids.length, 0);
    try {
      await new Promise<void>((resolve, reject) => {
        let count = 0;
        const timer = setTimeout(() => reject(new Error(`received ${count} of ${total} events`)), 30_000);
        consumer.subscribe(
          {
            processEvents: async (events) => {
              for (const event of events) {
                const deviceId = String(event.systemProperties?.['iothub-connection-device-id']);
                if (!sent.has(deviceId)) continue;
                received.set(deviceId, [...(received.get(deviceId) ?? []), event]);
                if (++count === total) {
                  clearTimeout(timer);
                  resolve();
                }
              }
            },
            processError: async (err) => reject(err),
          },
          { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
        );
      });
    } finally {
      await consumer.close();
    }

    for (const [deviceId, ids] of sent) {
      const events = received.get(deviceId) ?? [];
      assert.deepEqual(events.map((e) => e.messageId), ids, `${deviceId}: every message, in order`);
      const [first] = events;
      assert.deepEqual(first!.body, { transport: first!.body.transport, i: 0 });
      assert.equal(first!.correlationId, 'corr-1');
      assert.equal(first!.contentType, 'application/json');
      assert.deepEqual(first!.properties, { level: 'low', 'odd-chars': 'a&b=c/d %24' });
      assert.equal(first!.systemProperties?.['iothub-message-source'], 'Telemetry');
      assert.equal(typeof first!.systemProperties?.['iothub-connection-auth-generation-id'], 'string');
      assert.equal(typeof first!.sequenceNumber, 'number');
      assert.ok(first!.enqueuedTimeUtc instanceof Date);
    }
  });
}
