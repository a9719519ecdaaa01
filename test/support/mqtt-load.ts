import { connect, type TLSSocket } from 'node:tls';
import mqttPacket from 'mqtt-packet';

/** One simulated device: what it sends in CONNECT and where it publishes. */
export interface LoadDevice {
  clientId: string;
  username?: string;
  password?: string;
  topic: string;
}

export interface MqttLoadOptions {
  host: string;
  port: number;
  ca: string;
  servername: string;
  devices: LoadDevice[];
  /** Stop after this many messages per device... */
  messagesPerDevice: number;
  /** ...or after this long, whichever comes first. */
  maxDurationMs: number;
  payloadBytes: number;
  /** QoS 1 publishes each device keeps awaiting PUBACK (with a rate: at most). */
  inflightPerDevice: number;
  /**
   * Messages/s each device sends, on a schedule (devices spread evenly over the period); without it each device
   * sends as fast as PUBACKs come back. A device whose window is full skips the slots it misses.
   */
  ratePerDevice?: number;
  /** How many devices connect at once while ramping up. */
  connectConcurrency?: number;
  /** Called for every PUBACK, after the hub made the message durable. */
  onAck?(device: number, sequence: number, latencyNs: bigint): void;
  /** Payload for message `sequence` of `device`; default: the ids, then filler. */
  payload?(device: number, sequence: number): Buffer;
}

export interface MqttLoadResult {
  connected: number;
  acked: number;
  errors: string[];
  elapsedMs: number;
  /** PUBACK latencies in ns, unsorted. */
  latencies: bigint[];
}

/**
 * Drives many MQTT 3.1.1 devices over TLS at QoS 1 with a fixed in-flight window each: the load of the d2c
 * benchmark and of the crash tests, against Lazuli or a peer broker.
 */
export async function runMqttLoad(o: MqttLoadOptions): Promise<MqttLoadResult> {
  const result: MqttLoadResult = { connected: 0, acked: 0, errors: [], elapsedMs: 0, latencies: [] };
  const sockets: TLSSocket[] = [];
  const payloadOf = o.payload ?? ((d: number, s: number) => defaultPayload(d, s, o.payloadBytes));
  const ready: Array<{ socket: TLSSocket; index: number; pending: Map<number, bigint>; parser: ReturnType<typeof mqttPacket.parser> }> = [];

  const concurrency = o.connectConcurrency ?? 50;
  for (let i = 0; i < o.devices.length; i += concurrency) {
    const batch = o.devices.slice(i, i + concurrency).map((device, k) => connectDevice(o, device, i + k));
    for (const r of await Promise.allSettled(batch)) {
      if (r.status === 'fulfilled') ready.push(r.value);
      else result.errors.push(String(r.reason));
    }
  }
  result.connected = ready.length;

  const started = process.hrtime.bigint();
  const deadline = Date.now() + o.maxDurationMs;
  await Promise.all(
    ready.map(
      (conn) =>
        new Promise<void>((resolve) => {
          sockets.push(conn.socket);
          let next = 0;
          let nextId = 1;
          const ids = new Map<number, number>();
          let refillScheduled = false;
          // PUBACKs arrive in bursts; refill the window once per burst, in one corked write (one TLS record).
          const scheduleRefill = () => {
            if (refillScheduled) return;
            refillScheduled = true;
            process.nextTick(() => {
              refillScheduled = false;
              publish();
            });
          };
          /** Publishes the device's next message, if its window has room. */
          const publishNext = (): boolean => {
            if (conn.pending.size >= o.inflightPerDevice || next >= o.messagesPerDevice) return false;
            const messageId = nextId;
            nextId = (nextId % 65535) + 1;
            ids.set(messageId, next);
            conn.pending.set(messageId, process.hrtime.bigint());
            conn.socket.write(mqttPacket.generate({ cmd: 'publish', topic: o.devices[conn.index]!.topic, payload: payloadOf(conn.index, next), qos: 1, messageId, retain: false, dup: false }));
            next++;
            return true;
          };
          const publish = () => {
            conn.socket.cork();
            while (Date.now() < deadline && publishNext());
            conn.socket.uncork();
            if (conn.pending.size === 0) resolve();
          };
          if (o.ratePerDevice !== undefined) {
            // Paced: one message per slot, the first slot offset by the device's place in the fleet.
            const periodMs = 1000 / o.ratePerDevice;
            const send = () => {
              if (conn.socket.destroyed) return clearInterval(timer);
              if (Date.now() >= deadline) {
                clearInterval(timer);
                if (conn.pending.size === 0) resolve();
                return;
              }
              publishNext();
            };
            let timer: NodeJS.Timeout | undefined;
            setTimeout(() => {
              timer = setInterval(send, periodMs);
              send();
            }, (conn.index / ready.length) * periodMs);
          }
          conn.parser.on('packet', (packet) => {
            if (packet.cmd !== 'puback' || packet.messageId === undefined) return;
            const sentAt = conn.pending.get(packet.messageId);
            if (sentAt === undefined) return;
            conn.pending.delete(packet.messageId);
            const latency = process.hrtime.bigint() - sentAt;
            result.latencies.push(latency);
            result.acked++;
            o.onAck?.(conn.index, ids.get(packet.messageId)!, latency);
            ids.delete(packet.messageId);
            if (o.ratePerDevice === undefined) scheduleRefill();
            else if (conn.pending.size === 0 && Date.now() >= deadline) resolve();
          });
          conn.socket.once('close', () => {
            if (conn.pending.size > 0) result.errors.push(`device ${conn.index}: connection closed with ${conn.pending.size} unacknowledged`);
            conn.pending.clear();
            resolve();
          });
          if (o.ratePerDevice === undefined) publish();
        }),
    ),
  );
  result.elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  for (const s of sockets) s.destroy();
  return result;
}

function connectDevice(o: MqttLoadOptions, device: LoadDevice, index: number) {
  return new Promise<{ socket: TLSSocket; index: number; pending: Map<number, bigint>; parser: ReturnType<typeof mqttPacket.parser> }>((resolve, reject) => {
    const socket = connect({ host: o.host, port: o.port, ca: o.ca, servername: o.servername });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`device ${index} (${device.clientId}): ${why}`));
    };
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.once('error', (err) => fail(err.message));
    parser.once('packet', (packet) => {
      if (packet.cmd !== 'connack' || packet.returnCode !== 0) return fail(`CONNACK ${packet.returnCode ?? packet.cmd}`);
      resolve({ socket, index, pending: new Map(), parser });
    });
    socket.once('secureConnect', () => socket.write(connectFrame(device)));
  });
}

function defaultPayload(device: number, sequence: number, bytes: number): Buffer {
  const head = Buffer.from(`${device}:${sequence}:`);
  const out = Buffer.alloc(Math.max(bytes, head.length), 0x61);
  head.copy(out);
  return out;
}

/** An MQTT 3.1.1 CONNECT with a clean session and a 300 s keep-alive, as the load tools' devices send it. */
export function connectFrame(device: { clientId: string; username?: string; password?: string }): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 300,
    clientId: device.clientId,
    ...(device.username === undefined ? {} : { username: device.username }),
    ...(device.password === undefined ? {} : { password: Buffer.from(device.password) }),
  });
}
