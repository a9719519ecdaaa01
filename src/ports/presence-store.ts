/** Where an identity's connection is, as the presence store knows it. */
export interface PresenceEntry {
  /** The node that last held (or holds) the connection. */
  node: string;
  /** True while that node holds it and its lease has not run out. */
  connected: boolean;
  /**
   * Ms since the epoch: when the connection began (connected), or when it ended; an entry whose node's lease ran out
   * ended when the lease did.
   */
  since: number;
}

/**
 * Which node holds which identity's connection, cluster-wide, with leases: a node renews its lease now and then, and
 * when it stops (it died, or lost the store) its entries count as disconnected once the lease runs out, without
 * anyone having to clean up after it. Lease times are the store's own clock, so nodes' clocks need not agree.
 * Every adapter passes test/contract/presence-store.contract.ts.
 *
 * - `hold` records that `node` holds `key` since `since`; it replaces a disconnected entry, or a connected one that
 *   began no later (of two nodes racing, the newer connection wins whatever order the writes land in).
 * - `release` records the end of that hold at `at`, only if the entry is still the one `hold(key, node, since)` wrote.
 * - `renewLease` extends the node's lease to `leaseMs` from now; it resolves false when the node had no live lease
 *   before (its first renewal, or one after a lapse), when the node must `hold` its connections again.
 * - `sweep` turns the entries of nodes whose leases ran out into disconnected ones and forgets those leases.
 * - `endLease` is a clean shutdown: the node's entries end now and its lease is gone.
 * - `forget` removes the entries of a device and of its modules (`deviceId` and `deviceId/...`): it was deleted.
 */
export interface PresenceStore {
  renewLease(node: string, leaseMs: number): Promise<boolean>;
  hold(key: string, node: string, since: number): Promise<void>;
  release(key: string, node: string, since: number, at: number): Promise<void>;
  lookup(key: string): Promise<PresenceEntry | undefined>;
  sweep(): Promise<number>;
  endLease(node: string, at: number): Promise<void>;
  forget(deviceId: string): Promise<void>;
  close(): Promise<void>;
}
