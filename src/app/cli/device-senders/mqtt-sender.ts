import { connect, type TLSSocket } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import type { DeviceEndpoint, DeviceSender } from './device-sender.js';

/** MQTT 3.1.1 over TLS, QoS 1: each send waits for its PUBACK. */
export async function mqttSender(endpoint: DeviceEndpoint): Promise<DeviceSender> {
  const socket: TLSSocket = connect({ host: endpoint.host, port: endpoint.port, ca: endpoint.ca, servername: endpoint.hostname });
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  let connack: ((code: number) => void) | undefined;
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    for (const w of waiting.values()) w.reject(failure);
    waiting.clear();
  };
  parser.on('packet', (packet) => {
    if (packet.cmd === 'connack') connack?.(packet.returnCode ?? 0);
    if (packet.cmd === 'puback' && packet.messageId !== undefined) {
      waiting.get(packet.messageId)?.resolve();
      waiting.delete(packet.messageId);
    }
  });
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('the hub closed the MQTT connection')));

  const code = await new Promise<number>((resolve, reject) => {
    connack = resolve;
    socket.once('error', reject);
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 60,
        clientId: endpoint.deviceId,
        username: `${endpoint.hostname}/${endpoint.deviceId}/?api-version=2021-04-12`,
        password: Buffer.from(endpoint.token),
      }),
    );
  });
  if (code !== 0) {
    socket.destroy();
    throw new Error(`the hub refused the MQTT connection (CONNACK ${code}${code === 5 ? ': not authorized' : ''})`);
  }

  let nextId = 1;
  const topicBase = `devices/${endpoint.deviceId}/messages/events/`;
  return {
    send(body, properties) {
      if (failure) return Promise.reject(failure);
      const messageId = nextId;
      nextId = (nextId % 65535) + 1;
      const bag = Object.entries(properties)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join('&');
      return new Promise((resolve, reject) => {
        waiting.set(messageId, { resolve, reject });
        socket.write(mqttPacket.generate({ cmd: 'publish', topic: topicBase + bag, payload: body, qos: 1, messageId, retain: false, dup: false }));
      });
    },
    async close() {
      socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
    },
  };
}
