import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startListeners, type ListenerOptions } from '../../src/protocols/listener/tls-listener.js';
import { sniffProtocol } from '../../src/protocols/listener/sniff.js';
import { startTestHub, type TestHub } from '../support/in-process-hub.js';

let hub: TestHub;
before(async () => {
  hub = await startTestHub();
});
after(async () => hub.close());

function tlsConnect(port: number, ca: string, options: { maxVersion?: 'TLSv1.1' } = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', servername: 'localhost', port, ca, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with what the server sent once it closes the connection; fails if it stays open. */
function closedByServer(socket: TLSSocket, withinMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('the server kept the connection open')), withinMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

describe('TLS listeners and protocol sniffing', () => {
  test('the first byte tells MQTT, AMQP and HTTP apart', () => {
    assert.equal(sniffProtocol(0x10), 'mqtt');
    assert.equal(sniffProtocol('A'.charCodeAt(0)), 'amqp');
    for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']) assert.equal(sniffProtocol(method.charCodeAt(0)), 'http');
    assert.equal(sniffProtocol(0x00), 'unknown');
    assert.equal(sniffProtocol(0x16), 'unknown');
  });

  for (const [name, bytes] of [
    ['an MQTT CONNECT', Buffer.from('101000044d5154540402003c0004746573740000', 'hex')],
    ['an AMQP protocol header', Buffer.from('414d515003010000', 'hex')],
    ['garbage', Buffer.from([0x00, 0xff, 0x13])],
  ] as const) {
    test(`${name} on a listener without that adapter is closed cleanly and the listener keeps serving`, async () => {
      let served = 0;
      const listeners = await bareListeners({ http: (socket) => (served++, socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')) });
      try {
        const port = listeners.boundPorts.get(0)!;
        const socket = await tlsConnect(port, hub.ca);
        const closed = closedByServer(socket, 3000);
        socket.write(bytes);
        assert.equal((await closed).length, 0);
        const again = await tlsConnect(port, hub.ca);
        const answer = closedByServer(again, 3000);
        again.write('GET / HTTP/1.1\r\n\r\n');
        assert.match((await answer).toString(), /^HTTP\/1\.1 200/);
        assert.equal(served, 1);
      } finally {
        await listeners.close();
      }
    });
  }

  test('HTTP keep-alive serves several requests on one socket, with chunked bodies', async () => {
    const socket = await tlsConnect(hub.port, hub.ca);
    const token = hub.serviceToken();
    const body = JSON.stringify({ deviceId: 'chunky' });
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    socket.write(
      `PUT /devices/chunky?api-version=2021-04-12 HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${token}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(body.slice(0, 5))}${chunk(body.slice(5))}0\r\n\r\n` +
        `GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    );
    let text = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`two responses not seen: ${text}`)), 3000);
      socket.on('data', (c: Buffer) => {
        text += c.toString();
        if ((text.match(/HTTP\/1\.1 200/g) ?? []).length === 2 && text.includes('"status":"ok"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.match(text, /"deviceId":"chunky"/);
    socket.destroy();
  });

  test('TLS below 1.2 is refused', async () => {
    await assert.rejects(tlsConnect(hub.port, hub.ca, { maxVersion: 'TLSv1.1' }));
  });

  test('a client that sends nothing after the handshake is dropped', async () => {
    const listeners = await bareListeners({}, 200);
    try {
      const socket = await tlsConnect(listeners.boundPorts.get(0)!, hub.ca);
      await closedByServer(socket, 2000);
    } finally {
      await listeners.close();
    }
  });
});

/** Listeners with only the given handlers, on the certificate prepare-test-ca issued for localhost. */
function bareListeners(handlers: ListenerOptions['handlers'], firstByteTimeoutMs?: number) {
  return startListeners({
    ports: [0],
    bind: '127.0.0.1',
    cert: readFileSync(join(process.env.LAZULI_TEST_CA_DIR!, 'server.pem'), 'utf8'),
    key: readFileSync(join(process.env.LAZULI_TEST_CA_DIR!, 'server-key.pem'), 'utf8'),
    handlers,
    logger: pino({ level: 'silent' }),
    ...(firstByteTimeoutMs === undefined ? {} : { firstByteTimeoutMs }),
  });
}
