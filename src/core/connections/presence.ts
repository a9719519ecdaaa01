import { identityKey } from '../../domain/device-identity.js';
import { BusNoResponder, BusTimeout, type MessageBus } from '../../ports/message-bus.js';
import type { ConnectionInfo } from '../registry/identity-view.js';
import type { ConnectionRegistry } from './connection-registry.js';

/** How long a presence question to another node may take before the identity counts as disconnected. */
const ASK_TIMEOUT_MS = 250;

export function presenceSubject(key: string): string {
  return `presence.${key}`;
}

/**
 * Which identities are connected, cluster-wide: the node holding an identity's connection answers for it on the bus
 * (`presence.<identity>`, one responder per subject, so the newest connection's node answers). A node that dies
 * stops answering as soon as the bus notices it gone; nothing has to expire in storage. On one node the bus is
 * in-process and every answer is local.
 */
export class Presence {
  private readonly served = new Map<string, () => void>();

  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly bus: MessageBus,
  ) {}

  /** This node now holds the identity's connection. */
  held(key: string): void {
    this.served.get(key)?.();
    this.served.set(key, this.bus.serve(presenceSubject(key), async () => Buffer.from(JSON.stringify(this.connections.infoOf(key)))));
  }

  /** This node no longer holds it. */
  released(key: string): void {
    this.served.get(key)?.();
    this.served.delete(key);
  }

  async info(deviceId: string, moduleId?: string): Promise<ConnectionInfo> {
    const local = this.connections.info(deviceId, moduleId);
    if (local.connectionState === 'Connected') return local;
    try {
      const reply = await this.bus.request(presenceSubject(identityKey(deviceId, moduleId)), Buffer.alloc(0), ASK_TIMEOUT_MS);
      const remote = JSON.parse(reply.toString('utf8')) as ConnectionInfo;
      return remote.connectionState === 'Connected' ? remote : local;
    } catch (err) {
      if (err instanceof BusNoResponder || err instanceof BusTimeout || err instanceof SyntaxError) return local;
      throw err;
    }
  }
}
