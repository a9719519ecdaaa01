// Support for the MQTT protocol tests: a raw MQTT client on mqtt-packet (over TLS, WebSocket or any stream) and
// helpers for devices, tokens and stored telemetry. Not a test file itself.
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { generate, parser as createParser, type IConnackPacket, type IConnectPacket, type Packet } from 'mqtt-packet';
import { WebSocket, createWebSocketStream } from 'ws';
import { TELEMETRY_ANNOTATIONS, type HubMessage } from '../../src/domain/message.js';
import { decodeMessage } from '../../src/domain/message-codec.js';
import { partitionOf } from '../../src/domain/partitioning.js';
import { createSasToken } from '../../src/domain/sas.js';
import type { Hub } from '../../src/core/hub.js';
import type { TestHub } from '../support/in-process-hub.js';

type PacketOf<C extends Packet['cmd']> = Extract<Packet, { cmd: C }>;

/** An MQTT client with nothing between the test and the wire: for inputs real clients never send. */
export class MqttTestClient {
  readonly #received: Packet[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  readonly closed: Promise<void>;
  parseError: Error | undefined;

  constructor(
    readonly stream: Duplex,
    protocolVersion: 4 | 5 = 4,
  ) {
    const parser = createParser({ protocolVersion });
    parser.on('packet', (p: Packet) => {
      this.#received.push(p);
      this.#wake?.();
    });
    parser.on('error', (err: Error) => (this.parseError = err));
    stream.on('data', (chunk: Buffer) => parser.parse(chunk));
    stream.on('error', () => undefined);
    this.closed = new Promise((resolve) => stream.once('close', () => resolve()));
    void this.closed.then(() => {
      this.#closed = true;
      this.#wake?.();
    });
  }

  static tls(hub: TestHub, protocolVersion: 4 | 5 = 4): Promise<MqttTestClient> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', servername: 'localhost', port: hub.port, ca: hub.ca }, () => {
        socket.off('error', reject);
        resolve(new MqttTestClient(socket, protocolVersion));
      });
      socket.once('error', reject);
    });
  }

  static webSocket(hub: TestHub): Promise<MqttTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://localhost:${hub.port}/$iothub/websocket`, 'mqtt', { ca: hub.ca });
      ws.once('open', () => {
        ws.off('error', reject);
        resolve(new MqttTestClient(createWebSocketStream(ws)));
      });
      ws.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  send(packet: Packet, protocolVersion: 4 | 5 = 4): void {
    this.stream.write(generate(packet, { protocolVersion }));
  }

  sendRaw(bytes: Buffer): void {
    this.stream.write(bytes);
  }

  /** The next packet from the server; fails when none comes in time or the server closes first. */
  async next(timeoutMs = 5000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    while (this.#received.length === 0) {
      if (this.#closed) throw new Error('the server closed the connection');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.#received.shift()!;
  }

  async expect<C extends Packet['cmd']>(cmd: C, timeoutMs = 5000): Promise<PacketOf<C>> {
    const packet = await this.next(timeoutMs);
    if (packet.cmd !== cmd) throw new Error(`expected ${cmd}, got ${JSON.stringify(packet)}`);
    return packet as PacketOf<C>;
  }

  /** Resolves once the server has closed the connection; fails if it stays open. */
  async expectClosed(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the server kept the connection open for ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Packets received and not yet taken. */
  get unread(): readonly Packet[] {
    return this.#received;
  }

  destroy(): void {
    this.stream.destroy();
  }
}

export interface TestIdentity {
  deviceId: string;
  moduleId?: string;
  key: string;
}

function coreOf(hub: TestHub | Hub): Hub {
  return 'running' in hub ? hub.running.hub : hub;
}

export async function createDevice(hub: TestHub | Hub, deviceId: string): Promise<TestIdentity> {
  const view = await coreOf(hub).registry.putDevice(deviceId, {});
  return { deviceId, key: view.authentication.symmetricKey.primaryKey! };
}

export async function createModule(hub: TestHub | Hub, deviceId: string, moduleId: string): Promise<TestIdentity> {
  const view = await coreOf(hub).registry.putModule(deviceId, moduleId, {});
  return { deviceId, moduleId, key: view.authentication.symmetricKey.primaryKey! };
}

export function clientIdOf(id: Pick<TestIdentity, 'deviceId' | 'moduleId'>): string {
  return id.moduleId === undefined ? id.deviceId : `${id.deviceId}/${id.moduleId}`;
}

/** The HostName a client of this hub uses: `localhost:{port}` for a hub on a port, as the SDKs put it. */
export type HostName = string;

export function hostOf(hub: TestHub): HostName {
  return `localhost:${hub.port}`;
}

/** A token as the Node SDK makes it. */
export function deviceToken(host: HostName, id: TestIdentity, expiresInSeconds = 3600): string {
  const path = id.moduleId === undefined ? `devices/${id.deviceId}` : `devices/${id.deviceId}/modules/${id.moduleId}`;
  return createSasToken({ resource: `${host}/${path}`, keyBase64: id.key, expiry: Math.floor(Date.now() / 1000) + expiresInSeconds });
}

/** The CONNECT the Node SDK sends, with any field overridden. */
export function connectPacket(host: HostName, id: TestIdentity, overrides: Partial<IConnectPacket> = {}): IConnectPacket {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: false,
    keepalive: 180,
    clientId: clientIdOf(id),
    username: `${host}/${clientIdOf(id)}/?api-version=2021-04-12&DeviceClientType=lazuli-test`,
    password: Buffer.from(deviceToken(host, id)),
    ...overrides,
  };
}

/** Opens a TLS connection, sends CONNECT and returns the client with the CONNACK. */
export async function connectIdentity(
  hub: TestHub,
  id: TestIdentity,
  overrides: Partial<IConnectPacket> = {},
): Promise<{ client: MqttTestClient; connack: IConnackPacket }> {
  const client = await MqttTestClient.tls(hub);
  client.send(connectPacket(hostOf(hub), id, overrides));
  return { client, connack: await client.expect('connack') };
}

/** The telemetry of one device stored so far, in order. */
export async function storedMessages(hub: TestHub, deviceId: string): Promise<HubMessage[]> {
  const log = hub.running.telemetryLog;
  const events = await log.read(partitionOf(deviceId, log.partitionCount), 0, 100_000);
  return events.map((e) => decodeMessage(e.payload)).filter((m) => m.annotations[TELEMETRY_ANNOTATIONS.deviceId] === deviceId);
}

/** Polls until the device has at least `count` stored messages. */
export async function waitForMessages(hub: TestHub, deviceId: string, count: number, timeoutMs = 5000): Promise<HubMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = await storedMessages(hub, deviceId);
    if (messages.length >= count) return messages;
    if (Date.now() > deadline) throw new Error(`${deviceId}: ${messages.length} of ${count} messages stored after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let fresh = 0;
/** A device id no other test in the process uses. */
export function freshId(prefix: string): string {
  return `${prefix}-${process.pid}-${++fresh}`;
}

/** The hub still accepts a new, well-behaved client: bad input elsewhere did not break it. */
export async function assertHubServes(hub: TestHub): Promise<void> {
  const id = await createDevice(hub, freshId('canary'));
  const { client, connack } = await connectIdentity(hub, id);
  try {
    if (connack.returnCode !== 0) throw new Error(`a well-behaved client was refused with ${connack.returnCode}`);
    client.send({ cmd: 'pingreq' });
    await client.expect('pingresp');
  } finally {
    client.destroy();
  }
}
