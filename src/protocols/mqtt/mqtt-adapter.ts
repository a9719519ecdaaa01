import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Hub } from '../../core/hub.js';
import { identityKey } from '../../domain/device-identity.js';
import type { MqttSessionStore } from '../../ports/mqtt-session-store.js';
import type { MqttContext } from './mqtt-context.js';
import { MqttConnection } from './mqtt-connection.js';

export interface MqttAdapterOptions {
  hub: Hub;
  logger: Logger;
  /** Where CleanSession=0 sessions are kept (the composition root chooses the backend). */
  sessions: MqttSessionStore;
  /** Publishes awaiting durability on one connection above which reading from it pauses. Default 1000. */
  maxInflightPublishes?: number;
  /** Time a new connection has to complete its CONNECT. Default 30 s. */
  connectTimeoutMs?: number;
  /** Largest packet accepted. Default: the hub's largest message plus 64 KiB for topic and header. */
  maxPacketBytes?: number;
  /** Upper bound of the keep-alive timeout. Default 1767 s, as IoT Hub. */
  maxKeepAliveTimeoutMs?: number;
  /** Cloud-to-device messages one connection may hold unacknowledged (at most 65535). Default 16. */
  maxInflightC2d?: number;
  /** How often C2D delivery looks at a device's queue without being told to. Default 5 s. */
  c2dRescanMs?: number;
  now?: () => number;
}

export interface MqttAdapter {
  /** Serves MQTT on a stream: a TLS socket after sniffing, or a WebSocket stream. */
  handle(stream: Duplex): void;
  /** The connected MQTT connection of an identity, if any: where C2D, twin and method deliveries go. */
  connectionOf(deviceId: string, moduleId?: string): MqttConnection | undefined;
  /** Closes every connection (no wills are published). */
  close(): Promise<void>;
}

/** The MQTT 3.1.1 device adapter (IoT Hub's MQTT surface). The layout follows Aedes: one handler per packet. */
export function createMqttAdapter(options: MqttAdapterOptions): MqttAdapter {
  const ctx: MqttContext = {
    hub: options.hub,
    sessions: options.sessions,
    log: options.logger.child({ component: 'mqtt', protocol: 'mqtt' }),
    settings: {
      maxInflightPublishes: options.maxInflightPublishes ?? 1000,
      connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
      maxPacketBytes: options.maxPacketBytes ?? options.hub.telemetry.maxMessageBytes + 64 * 1024,
      maxKeepAliveTimeoutMs: options.maxKeepAliveTimeoutMs ?? 1767_000,
      maxInflightC2d: options.maxInflightC2d ?? 16,
      c2dRescanMs: options.c2dRescanMs ?? 5000,
      now: options.now ?? Date.now,
    },
    live: new Map(),
    open: new Set(),
  };
  return {
    handle(stream) {
      ctx.open.add(new MqttConnection(stream, ctx));
    },
    connectionOf(deviceId, moduleId) {
      return ctx.live.get(identityKey(deviceId, moduleId));
    },
    async close() {
      for (const connection of [...ctx.open]) connection.close('shutdown', 'the hub is stopping');
    },
  };
}
