import { connect, type TLSSocket } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { MqttFramer, PacketType, publishParts, pubacks, type Frame } from './mqtt-frames.js';
import { connectFrame } from '../../test/support/mqtt-load.js';
import type { MqttCredentials } from './register-devices.js';

export interface C2dDevicesOptions {
  host: string;
  port: number;
  ca: string;
  servername: string;
  devices: readonly MqttCredentials[];
  /** How many devices connect at once while ramping up. */
  connectConcurrency?: number;
  /** Every cloud-to-device PUBLISH, as it is read (before its PUBACK is written); `receivedAt` is performance.now(). */
  onMessage(device: number, payload: Buffer, receivedAt: number): void;
}

export interface C2dDevices {
  connected: number;
  /** Connections refused or lost (not counting close()). */
  errors: string[];
  /** Disconnects every device. */
  close(): void;
}

/**
 * MQTT 3.1.1 devices over TLS, each subscribed to its cloud-to-device topic at QoS 1 and acknowledging every
 * delivery at once: the PUBACKs for everything one read brought in go out in one write.
 */
export async function connectC2dDevices(o: C2dDevicesOptions): Promise<C2dDevices> {
  const sockets: TLSSocket[] = [];
  let closing = false;
  const fleet: C2dDevices = {
    connected: 0,
    errors: [],
    close() {
      closing = true;
      for (const s of sockets) s.destroy();
    },
  };
  const concurrency = o.connectConcurrency ?? 50;
  for (let i = 0; i < o.devices.length; i += concurrency) {
    const batch = o.devices.slice(i, i + concurrency).map((device, k) => connectDevice(o, device, i + k, () => closing, fleet.errors));
    for (const r of await Promise.allSettled(batch)) {
      if (r.status === 'fulfilled') sockets.push(r.value);
      else fleet.errors.push(String(r.reason instanceof Error ? r.reason.message : r.reason));
    }
  }
  fleet.connected = sockets.length;
  return fleet;
}

/** Resolves once CONNACK accepted and SUBACK granted QoS 1. */
function connectDevice(o: C2dDevicesOptions, device: MqttCredentials, index: number, closing: () => boolean, errors: string[]): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: o.host, port: o.port, ca: o.ca, servername: o.servername });
    const framer = new MqttFramer();
    let subscribed = false;
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`device ${index} (${device.clientId}): ${why}`));
    };
    const onFrame = (frame: Frame, acks: number[]) => {
      if (frame.type === PacketType.publish) {
        const { packetId, payload } = publishParts(frame);
        o.onMessage(index, payload, performance.now());
        if (packetId !== undefined) acks.push(packetId);
      } else if (frame.type === PacketType.connack) {
        if (frame.body[1] !== 0) return fail(`CONNACK ${frame.body[1]}`);
        const topic = `devices/${device.clientId}/messages/devicebound/#`;
        socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] }));
      } else if (frame.type === PacketType.suback) {
        const granted = frame.body[2];
        if (granted !== 1) return fail(`SUBACK granted ${granted} instead of QoS 1`);
        subscribed = true;
        resolve(socket);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      const acks: number[] = [];
      try {
        framer.push(chunk, (frame) => onFrame(frame, acks));
      } catch (err) {
        return fail((err as Error).message);
      }
      if (acks.length > 0) socket.write(pubacks(acks));
    });
    socket.on('error', (err) => {
      if (!subscribed) fail(err.message);
    });
    socket.on('close', () => {
      if (!subscribed) fail('connection closed before SUBACK');
      else if (!closing()) errors.push(`device ${index} (${device.clientId}): connection closed by the hub`);
    });
    socket.once('secureConnect', () => socket.write(connectFrame(device)));
  });
}
