import type { PresenceEntry, PresenceStore } from '../../ports/presence-store.js';

interface Held {
  node: string;
  connected: boolean;
  since: number;
}

/** Presence for one process (the embedded hub): nothing outlives the process, as no connection does. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly leases = new Map<string, number>();
  private readonly entries = new Map<string, Held>();

  constructor(private readonly now: () => number = Date.now) {}

  async renewLease(node: string, leaseMs: number): Promise<boolean> {
    const until = this.leases.get(node);
    this.leases.set(node, this.now() + leaseMs);
    return until !== undefined && until > this.now();
  }

  async hold(key: string, node: string, since: number): Promise<void> {
    const entry = this.entries.get(key);
    if (entry && entry.connected && entry.since > since && (this.leases.get(entry.node) ?? 0) > this.now()) return;
    this.entries.set(key, { node, connected: true, since });
  }

  async release(key: string, node: string, since: number, at: number): Promise<void> {
    const entry = this.entries.get(key);
    if (entry && entry.connected && entry.node === node && entry.since === since) this.entries.set(key, { node, connected: false, since: at });
  }

  async lookup(key: string): Promise<PresenceEntry | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (!entry.connected) return { ...entry };
    const until = this.leases.get(entry.node) ?? 0;
    return until > this.now() ? { ...entry } : { node: entry.node, connected: false, since: until };
  }

  async sweep(): Promise<number> {
    let ended = 0;
    for (const [node, until] of [...this.leases]) {
      if (until > this.now()) continue;
      this.leases.delete(node);
      for (const [key, entry] of this.entries) {
        if (entry.node === node && entry.connected) {
          this.entries.set(key, { node, connected: false, since: until });
          ended += 1;
        }
      }
    }
    return ended;
  }

  async endLease(node: string, at: number): Promise<void> {
    this.leases.delete(node);
    for (const [key, entry] of this.entries) if (entry.node === node && entry.connected) this.entries.set(key, { node, connected: false, since: at });
  }

  async forget(deviceId: string): Promise<void> {
    for (const key of [...this.entries.keys()]) if (key === deviceId || key.startsWith(`${deviceId}/`)) this.entries.delete(key);
  }

  async close(): Promise<void> {}
}
