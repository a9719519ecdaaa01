import type { Logger } from 'pino';
import type { Hub } from '../../core/hub.js';
import type { MqttSessionStore } from '../../ports/mqtt-session-store.js';
import type { MqttConnection } from './mqtt-connection.js';

export interface MqttSettings {
  /** Publishes awaiting durability on one connection above which reading from it pauses. */
  maxInflightPublishes: number;
  /** Time from the connection's start to a complete CONNECT. */
  connectTimeoutMs: number;
  /** Largest packet accepted; a connection sending a larger one is closed before it is buffered. */
  maxPacketBytes: number;
  /** Upper bound of the keep-alive timeout. */
  maxKeepAliveTimeoutMs: number;
  /** Cloud-to-device messages one connection may hold unacknowledged (QoS 1 awaiting PUBACK). */
  maxInflightC2d: number;
  /** How often C2D delivery looks at the queue on its own: locks that ended, notifications lost between nodes. */
  c2dRescanMs: number;
  now: () => number;
}

/** What every connection of one adapter shares. */
export interface MqttContext {
  hub: Hub;
  sessions: MqttSessionStore;
  settings: MqttSettings;
  log: Logger;
  /** Connected connections by identity key (`deviceId` or `deviceId/moduleId`). */
  live: Map<string, MqttConnection>;
  /** Every open connection, connected or not, so the adapter can close them all. */
  open: Set<MqttConnection>;
}
