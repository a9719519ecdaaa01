import { identityKey } from '../../domain/device-identity.js';
import { BusNoResponder, BusTimeout, type MessageBus } from '../../ports/message-bus.js';
import type { PresenceStore } from '../../ports/presence-store.js';
import type { ConnectionInfo } from '../registry/identity-view.js';
import type { ConnectionRegistry } from './connection-registry.js';

/** How long a presence question to another node may take before its lease is taken at its word. */
const ASK_TIMEOUT_MS = 250;
export const DEFAULT_PRESENCE_LEASE_MS = 30_000;

export function nodePresenceSubject(node: string): string {
  return `presence.node.${node}`;
}

export interface PresenceSettings {
  /** This node's id, unique in the cluster. */
  node: string;
  /** A node that stops renewing its lease counts as gone this long after its last renewal. */
  leaseMs: number;
  now: () => number;
  failed: (err: unknown, what: string) => void;
}

/**
 * Which identities are connected, cluster-wide. The node holding a connection records it in the presence store
 * under its lease and renews the lease every third of its length; a node that dies or loses the store stops
 * renewing, and its entries count as disconnected once the lease runs out (default 30 s). For the live details
 * (last activity) a node asks the holder directly, on a subject only that node serves, so an older holder's
 * leftovers never answer; a holder the bus knows to be gone counts as disconnected at once. Without a store
 * (tests, embedded harnesses) presence is this node's alone.
 */
export class Presence {
  // Writes for one identity reach the store in the order they happened (a hold before its release).
  private readonly writes = new Map<string, Promise<void>>();
  private readonly holds = new Map<string, number>();
  private readonly stopServing: () => void;
  private timer: NodeJS.Timeout | undefined;
  private lastSweep = 0;

  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly bus: MessageBus,
    private readonly store: PresenceStore | undefined,
    private readonly settings: PresenceSettings,
  ) {
    this.stopServing = bus.serve(nodePresenceSubject(settings.node), async (key) => Buffer.from(JSON.stringify(this.connections.infoOf(key.toString('utf8')))));
  }

  /** Takes the lease and keeps renewing it. */
  async start(): Promise<void> {
    if (!this.store || this.timer) return;
    await this.renew();
    this.timer = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.settings.leaseMs / 3)));
    this.timer.unref();
  }

  /** Ends the lease: what this node held counts as disconnected now. */
  async stop(): Promise<void> {
    this.stopServing();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.writes.values());
    await this.store?.endLease(this.settings.node, this.settings.now()).catch((err: unknown) => this.settings.failed(err, 'ending the presence lease'));
  }

  /** This node now holds the identity's connection. */
  held(key: string): void {
    const since = this.settings.now();
    this.holds.set(key, since);
    this.write(key, (store) => store.hold(key, this.settings.node, since), `recording that ${key} connected`);
  }

  /** This node no longer holds it. */
  released(key: string): void {
    const since = this.holds.get(key);
    if (since === undefined) return;
    this.holds.delete(key);
    const at = this.settings.now();
    this.write(key, (store) => store.release(key, this.settings.node, since, at), `recording that ${key} disconnected`);
  }

  /** The device was deleted: its entries and its modules' go (a device created again with its id starts afresh). */
  forget(deviceId: string): void {
    this.write(deviceId, (store) => store.forget(deviceId), `forgetting the presence of deleted device ${deviceId}`);
  }

  async info(deviceId: string, moduleId?: string): Promise<ConnectionInfo> {
    const local = this.connections.info(deviceId, moduleId);
    if (local.connectionState === 'Connected' || !this.store) return local;
    const key = identityKey(deviceId, moduleId);
    const entry = await this.store.lookup(key);
    if (!entry || entry.node === this.settings.node) return local;
    if (!entry.connected) return latest(local, disconnectedAt(entry.since));
    try {
      const reply = await this.bus.request(nodePresenceSubject(entry.node), Buffer.from(key, 'utf8'), ASK_TIMEOUT_MS);
      const remote = JSON.parse(reply.toString('utf8')) as ConnectionInfo;
      return remote.connectionState === 'Connected' ? remote : latest(local, remote);
    } catch (err) {
      if (err instanceof BusNoResponder) return latest(local, disconnectedAt(this.settings.now()));
      if (err instanceof BusTimeout || err instanceof SyntaxError) return connectedAt(entry.since);
      throw err;
    }
  }

  private async renew(): Promise<void> {
    const { store, settings } = this;
    if (!store) return;
    try {
      const continuous = await store.renewLease(settings.node, settings.leaseMs);
      // After a lapse other nodes may have swept this node's entries: record what it holds again.
      if (!continuous) for (const [key, since] of this.holds) this.write(key, (s) => s.hold(key, settings.node, since), `recording that ${key} is connected`);
      if (settings.now() - this.lastSweep >= settings.leaseMs) {
        this.lastSweep = settings.now();
        await store.sweep();
      }
    } catch (err) {
      settings.failed(err, 'renewing the presence lease');
    }
  }

  private write(key: string, op: (store: PresenceStore) => Promise<void>, what: string): void {
    const store = this.store;
    if (!store) return;
    const next = (this.writes.get(key) ?? Promise.resolve())
      .then(() => op(store))
      .catch((err: unknown) => this.settings.failed(err, what))
      .finally(() => {
        if (this.writes.get(key) === next) this.writes.delete(key);
      });
    this.writes.set(key, next);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function disconnectedAt(ms: number): ConnectionInfo {
  return { connectionState: 'Disconnected', connectionStateUpdatedTime: iso(ms), lastActivityTime: iso(ms), cloudToDeviceMessageCount: 0 };
}

function connectedAt(ms: number): ConnectionInfo {
  return { connectionState: 'Connected', connectionStateUpdatedTime: iso(ms), lastActivityTime: iso(ms), cloudToDeviceMessageCount: 0 };
}

/** Of two disconnected states, the one that changed last. */
function latest(a: ConnectionInfo, b: ConnectionInfo): ConnectionInfo {
  return Date.parse(b.connectionStateUpdatedTime) > Date.parse(a.connectionStateUpdatedTime) ? b : a;
}
