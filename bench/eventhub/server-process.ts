// Child process of `npm run bench -- eventhub`: the Event Hub-compatible endpoint on its test server (rhea, TLS,
// MemoryTelemetryLog), preloaded with the events to read. Talks to the parent over IPC.
import pino from 'pino';
import type { HubMessage } from '../../src/domain/message.js';
import { encodeStampedMessage, stampOf } from '../../src/domain/message-codec.js';
import { startEventHubTestServer } from '../../test/protocol/eventhub-test-server.js';

export interface ServerRequest {
  cert: string;
  key: string;
  events: number;
  size: number;
  partitions: number;
}

export type ServerReply = { ready: true; port: number; connectionString: string; preloadMs: number; payloadBytes: number };

process.once('message', (raw) => {
  void start(raw as ServerRequest).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});

async function start(request: ServerRequest): Promise<void> {
  const server = await startEventHubTestServer({ cert: request.cert, key: request.key, hubName: 'bench-hub', partitions: request.partitions, logger: pino({ level: 'warn' }) });
  const t0 = performance.now();
  let payloadBytes = 0;
  const body = jsonBody(request.size);
  for (let i = 0; i < request.events; i++) {
    const payload = storedTelemetry(i, body);
    payloadBytes += payload.length;
    await server.log.append({ partition: i % request.partitions, payload });
  }
  const reply: ServerReply = { ready: true, port: server.port, connectionString: server.connectionString(), preloadMs: performance.now() - t0, payloadBytes };
  process.send!(reply);
  process.once('disconnect', () => void server.close().then(() => process.exit(0)));
}

/** A JSON object of `size` bytes (at least the smallest one), as most device telemetry is. */
function jsonBody(size: number): Buffer {
  const head = '{"temperature":21.5,"humidity":48,"pad":"';
  const tail = '"}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail);
}

/** A device message as the telemetry service stores it: system properties and the hub's stamp (short form). */
function storedTelemetry(i: number, body: Buffer): Buffer {
  const message: HubMessage = {
    body,
    properties: { messageId: `msg-${i}`, contentType: 'application/json', contentEncoding: 'utf-8' },
    applicationProperties: { level: 'info', seq: String(i) },
    annotations: {},
  };
  const stamp = stampOf({ deviceId: `bench-device-${i % 100}`, authScope: 'device', authType: 'sas', generationId: '638000000000000001' });
  return encodeStampedMessage(message, stamp, Date.now());
}
