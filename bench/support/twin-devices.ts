import { connect, type TLSSocket } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { MqttFramer, PacketType, publishParts, pubacks, type Frame } from './mqtt-frames.js';
import { connectFrame } from '../../test/support/mqtt-load.js';
import type { MqttCredentials } from './register-devices.js';
import {
  METHOD_REQUEST_PREFIX,
  TWIN_RESPONSE_PREFIX,
  methodResponseTopic,
  parseTwinResponseTopic,
  publishPayload,
  publishTopic,
  qos0Publish,
  topicParam,
  type TwinResponse,
} from './twin-mqtt-frames.js';

export interface TwinDevicesOptions {
  host: string;
  port: number;
  ca: string;
  servername: string;
  devices: readonly MqttCredentials[];
  /** How many devices connect at once while ramping up. */
  connectConcurrency?: number;
  /**
   * Every `$iothub/twin/res/…` PUBLISH, as it is read; `receivedAt` is performance.now(). Packets pushed to `out` are
   * written to the device's connection once the whole chunk is read, in one write.
   */
  onTwinResponse(device: number, response: TwinResponse, receivedAt: number, out: Buffer[]): void;
}

export interface TwinDevices {
  connected: number;
  /** Connections refused or lost (not counting close()), and method requests the devices could not answer. */
  errors: string[];
  /** Direct method requests the devices received (and answered). */
  methodRequests: number;
  /** Writes these packets to device `device`'s connection, in one write. */
  send(device: number, packets: Buffer[]): void;
  /** Disconnects every device. */
  close(): void;
}

/** Methods are answered with this status and the request's own payload, so that callers can match answers to calls. */
const METHOD_STATUS = 200;

/**
 * MQTT 3.1.1 devices over TLS, each subscribed at QoS 0 to `$iothub/twin/res/#` (answers to its twin requests) and
 * `$iothub/methods/POST/#` (direct method calls). A method call is answered at once, status 200, echoing its payload.
 */
export async function connectTwinDevices(o: TwinDevicesOptions): Promise<TwinDevices> {
  const sockets: Array<TLSSocket | undefined> = new Array(o.devices.length);
  let closing = false;
  const fleet: TwinDevices = {
    connected: 0,
    errors: [],
    methodRequests: 0,
    send(device, packets) {
      const socket = sockets[device];
      if (socket === undefined || packets.length === 0) return;
      socket.write(packets.length === 1 ? packets[0]! : Buffer.concat(packets));
    },
    close() {
      closing = true;
      for (const s of sockets) s?.destroy();
    },
  };
  const concurrency = o.connectConcurrency ?? 50;
  for (let i = 0; i < o.devices.length; i += concurrency) {
    const batch = o.devices.slice(i, i + concurrency).map((device, k) => connectDevice(o, device, i + k, fleet, () => closing));
    const settled = await Promise.allSettled(batch);
    settled.forEach((r, k) => {
      if (r.status === 'fulfilled') {
        sockets[i + k] = r.value;
        fleet.connected++;
      } else {
        fleet.errors.push(String(r.reason instanceof Error ? r.reason.message : r.reason));
      }
    });
  }
  return fleet;
}

/** Resolves once CONNACK accepted and SUBACK granted both filters. */
function connectDevice(o: TwinDevicesOptions, device: MqttCredentials, index: number, fleet: TwinDevices, closing: () => boolean): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: o.host, port: o.port, ca: o.ca, servername: o.servername });
    socket.setNoDelay(true);
    const framer = new MqttFramer();
    let subscribed = false;
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`device ${index} (${device.clientId}): ${why}`));
    };
    const onPublish = (frame: Frame, out: Buffer[], acks: number[]) => {
      const topic = publishTopic(frame);
      if (topic.startsWith(TWIN_RESPONSE_PREFIX)) {
        o.onTwinResponse(index, parseTwinResponseTopic(topic), performance.now(), out);
      } else if (topic.startsWith(METHOD_REQUEST_PREFIX)) {
        const rid = topicParam(topic, '$rid');
        if (rid === undefined) fleet.errors.push(`device ${index}: a method request without $rid: ${topic.slice(0, 200)}`);
        else {
          fleet.methodRequests++;
          out.push(qos0Publish(methodResponseTopic(METHOD_STATUS, rid), publishPayload(frame)));
        }
      }
      if ((frame.flags >> 1) & 0x03) acks.push(publishParts(frame).packetId!);
    };
    const onFrame = (frame: Frame, out: Buffer[], acks: number[]) => {
      if (frame.type === PacketType.publish) {
        onPublish(frame, out, acks);
      } else if (frame.type === PacketType.connack) {
        if (frame.body[1] !== 0) return fail(`CONNACK ${frame.body[1]}`);
        socket.write(
          mqttPacket.generate({
            cmd: 'subscribe',
            messageId: 1,
            subscriptions: [
              { topic: '$iothub/twin/res/#', qos: 0 },
              { topic: '$iothub/methods/POST/#', qos: 0 },
            ],
          }),
        );
      } else if (frame.type === PacketType.suback) {
        const granted = [...frame.body.subarray(2)];
        if (granted.length !== 2 || granted.some((g) => g === 0x80)) return fail(`SUBACK granted ${granted.join(',')}`);
        subscribed = true;
        resolve(socket);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      const out: Buffer[] = [];
      const acks: number[] = [];
      try {
        framer.push(chunk, (frame) => onFrame(frame, out, acks));
      } catch (err) {
        return fail((err as Error).message);
      }
      if (acks.length > 0) out.push(pubacks(acks));
      if (out.length > 0) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    });
    socket.on('error', (err) => {
      if (!subscribed) fail(err.message);
    });
    socket.on('close', () => {
      if (!subscribed) fail('connection closed before SUBACK');
      else if (!closing()) fleet.errors.push(`device ${index} (${device.clientId}): connection closed by the hub`);
    });
    socket.once('secureConnect', () => socket.write(connectFrame(device)));
  });
}
