import { identityKey, type DeviceIdentity } from '../../domain/device-identity.js';
import type { ConnectionInfo } from '../registry/identity-view.js';
import { NEVER } from '../../domain/identity.js';

/** What the registry needs of a live connection: a way to end it, with a reason for the log. */
export interface LiveConnection {
  close(reason: string): void;
}

interface Entry {
  connection: LiveConnection;
  protocol: string;
}

/**
 * Who is connected, in this process. One live connection per identity: attaching a second one closes the first,
 * as Azure does. Also the source of `connectionState` and `lastActivityTime` for the registry's device view.
 */
export class ConnectionRegistry {
  private readonly live = new Map<string, Entry>();
  // Times in ms: touch() runs for every message, so formatting waits until someone reads the state.
  private readonly state = new Map<string, { connected: boolean; since: number; lastActivity: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    /** Told of every identity that attaches here (so that other nodes can drop theirs, and ask who holds it). */
    private readonly announce: (key: string) => void = () => undefined,
    /** Told when this node no longer holds an identity's connection. */
    private readonly release: (key: string) => void = () => undefined,
  ) {}

  /** Registers a connection for an identity and returns the function that unregisters it. */
  attach(identity: DeviceIdentity, connection: LiveConnection, protocol: string): () => void {
    const key = identityKey(identity.deviceId, identity.moduleId);
    const previous = this.live.get(key);
    const entry: Entry = { connection, protocol };
    this.live.set(key, entry);
    this.mark(key, true);
    previous?.connection.close(`a new ${protocol} connection for ${key} replaced this one`);
    this.announce(key);
    return () => {
      if (this.live.get(key) !== entry) return;
      this.live.delete(key);
      this.mark(key, false);
      this.release(key);
    };
  }

  /** Closes every connection of a device and of its modules (the device was disabled or deleted). */
  closeDevice(deviceId: string, reason: string): void {
    for (const key of [...this.live.keys()]) if (key === deviceId || key.startsWith(`${deviceId}/`)) this.closeKey(key, reason);
  }

  /** Closes the connection of an identity key (`deviceId` or `deviceId/moduleId`) if this node holds one. */
  closeKey(key: string, reason: string): void {
    const entry = this.live.get(key);
    if (!entry) return;
    this.live.delete(key);
    this.mark(key, false);
    this.release(key);
    entry.connection.close(reason);
  }

  /** Closes one identity's connection (a module was deleted). */
  closeIdentity(deviceId: string, moduleId: string | undefined, reason: string): void {
    this.closeKey(identityKey(deviceId, moduleId), reason);
  }

  touch(identity: DeviceIdentity): void {
    const s = this.state.get(identity.moduleId === undefined ? identity.deviceId : identityKey(identity.deviceId, identity.moduleId));
    if (s) s.lastActivity = this.now();
  }

  connectedCount(): number {
    return this.live.size;
  }

  info(deviceId: string, moduleId?: string): ConnectionInfo {
    return this.infoOf(identityKey(deviceId, moduleId));
  }

  /** As info, by identity key (`deviceId` or `deviceId/moduleId`). */
  infoOf(key: string): ConnectionInfo {
    const s = this.state.get(key);
    return {
      connectionState: s?.connected ? 'Connected' : 'Disconnected',
      connectionStateUpdatedTime: s ? new Date(s.since).toISOString() : NEVER,
      lastActivityTime: s ? new Date(s.lastActivity).toISOString() : NEVER,
      cloudToDeviceMessageCount: 0,
    };
  }

  private mark(key: string, connected: boolean): void {
    const at = this.now();
    const s = this.state.get(key);
    if (s) {
      s.connected = connected;
      s.since = at;
      if (connected) s.lastActivity = at;
    } else this.state.set(key, { connected, since: at, lastActivity: at });
  }
}
