import type { MessageBus } from '../../ports/message-bus.js';
import type { ConnectionRegistry } from './connection-registry.js';

const ATTACHED = 'connections.attached';
const DROPPED = 'connections.dropped';

interface Attached {
  key: string;
  node: string;
}

interface Dropped {
  deviceId: string;
  moduleId?: string;
  reason: string;
}

/**
 * Keeps "one connection per identity" and "a disabled or deleted identity is disconnected" true across the nodes of a
 * cluster: each node announces the identities that connect to it and the drops its registry decides, and closes its
 * own connections when another node's announcement concerns them. On one node the bus is in-process and this only
 * repeats what the node did already.
 */
export class ClusterConnections {
  private readonly unsubscribe: Array<() => void>;

  constructor(
    /** This node's id, unique in the cluster. */
    readonly node: string,
    connections: ConnectionRegistry,
    private readonly bus: MessageBus,
  ) {
    this.unsubscribe = [
      bus.subscribe(ATTACHED, (payload) => {
        const attached = parse<Attached>(payload);
        if (attached && attached.node !== this.node) connections.closeKey(attached.key, 'the identity connected to another node');
      }),
      bus.subscribe(DROPPED, (payload) => {
        const dropped = parse<Dropped>(payload);
        if (!dropped) return;
        if (dropped.moduleId === undefined) connections.closeDevice(dropped.deviceId, dropped.reason);
        else connections.closeIdentity(dropped.deviceId, dropped.moduleId, dropped.reason);
      }),
    ];
  }

  /** An identity connected to this node: connections to it elsewhere end. */
  attached(key: string): void {
    this.bus.publish(ATTACHED, Buffer.from(JSON.stringify({ key, node: this.node } satisfies Attached)));
  }

  /** The registry disabled or deleted a device (and its modules) or deleted a module: every node drops it. */
  dropped(deviceId: string, moduleId: string | undefined, reason: string): void {
    const message: Dropped = moduleId === undefined ? { deviceId, reason } : { deviceId, moduleId, reason };
    this.bus.publish(DROPPED, Buffer.from(JSON.stringify(message)));
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
  }
}

function parse<T>(payload: Buffer | undefined): T | undefined {
  if (!payload) return undefined;
  try {
    return JSON.parse(payload.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
