import type { ConnectionRegistry } from '../../core/connections/connection-registry.js';
import { identityKey, type DeviceIdentity } from '../../domain/device-identity.js';

/**
 * The devices and modules an AMQP connection carries (a gateway carries several), each registered once with the
 * hub's connection registry while at least one of its links is open. The registry calls `onClosed` when it ends an
 * identity's connection: the device was disabled or deleted, or it connected again elsewhere.
 */
export class ConnectionIdentities {
  private readonly registered = new Map<string, () => void>();

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly onClosed: (key: string, reason: string) => void,
  ) {}

  /** Registers the identity unless this connection already did; returns its key. */
  hold(identity: DeviceIdentity): string {
    const key = identityKey(identity.deviceId, identity.moduleId);
    if (!this.registered.has(key)) {
      const unregister = this.registry.attach(
        identity,
        {
          close: (reason) => {
            if (this.registered.delete(key)) this.onClosed(key, reason);
          },
        },
        'amqp',
      );
      this.registered.set(key, unregister);
    }
    return key;
  }

  /** Unregisters an identity whose last link closed. */
  release(key: string): void {
    this.registered.get(key)?.();
    this.registered.delete(key);
  }

  get size(): number {
    return this.registered.size;
  }

  releaseAll(): void {
    for (const unregister of this.registered.values()) unregister();
    this.registered.clear();
  }
}
