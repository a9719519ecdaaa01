import { randomUUID } from 'node:crypto';
import type { SharedAccessPolicy } from '../domain/permissions.js';
import type { RegistryStore } from '../ports/registry-store.js';
import type { TelemetryLog } from '../ports/telemetry-log.js';
import type { ConsumerGroupStore } from '../ports/consumer-group-store.js';
import type { C2dStore } from '../ports/c2d-store.js';
import type { MessageBus } from '../ports/message-bus.js';
import type { TwinStore } from '../ports/twin-store.js';
import type { TwinQueryIndex } from '../ports/twin-query-index.js';
import type { PresenceStore } from '../ports/presence-store.js';
import { DEFAULT_TWIN_LIMITS, type TwinLimits } from '../domain/twin-patch.js';
import { TwinService } from './twins/twin-service.js';
import { TwinQueryService } from './twins/twin-query-service.js';
import { MethodService } from './methods/method-service.js';
import { C2dService, DEFAULT_C2D_SETTINGS, type C2dSettings } from './c2d/c2d-service.js';
import { DEFAULT_FEEDBACK_SETTINGS, FeedbackService, type FeedbackSettings } from './c2d/feedback-service.js';
import { ConsumerGroupService } from './eventhub/consumer-group-service.js';
import { AuthService } from './auth/auth-service.js';
import { ConnectionRegistry } from './connections/connection-registry.js';
import { ClusterConnections } from './connections/cluster-connections.js';
import { DEFAULT_PRESENCE_LEASE_MS, Presence } from './connections/presence.js';
import { DeviceConnectService } from './connections/device-connect-service.js';
import { RegistryService } from './registry/registry-service.js';
import { TelemetryService } from './telemetry/telemetry-service.js';
import { TelemetryReader } from './eventhub/telemetry-reader.js';

export interface HubInfo {
  name: string;
  hostname: string;
  /** When the hub (its data) was created: ISO 8601. */
  createdAt?: string;
}

/** The facade protocol adapters receive: every hub service, nothing about storage or wiring. */
export interface Hub {
  info: HubInfo;
  auth: AuthService;
  registry: RegistryService;
  connections: ConnectionRegistry;
  devices: DeviceConnectService;
  telemetry: TelemetryService;
  telemetryReader: TelemetryReader;
  consumerGroups: ConsumerGroupService;
  c2d: C2dService;
  twins: TwinService;
  twinQueries: TwinQueryService;
  methods: MethodService;
  /** Starts background work: C2D expiry and feedback, the presence lease. */
  start(): Promise<void>;
  /** Stops it; connections should be closed first, so that what they gave back is recorded. */
  stop(): Promise<void>;
}

export interface HubDependencies {
  info: HubInfo;
  policies: readonly SharedAccessPolicy[];
  registryStore: RegistryStore;
  telemetryLog: TelemetryLog;
  consumerGroupStore: ConsumerGroupStore;
  c2dStore: C2dStore;
  twinStore: TwinStore;
  /** A store that narrows twin queries itself (SQL); without one, queries read every twin. */
  twinQueryIndex?: TwinQueryIndex;
  bus: MessageBus;
  /** Cluster-wide presence with leases; without it, presence is this node's alone. */
  presenceStore?: PresenceStore;
  /** How long a node that stops renewing its presence lease still counts as holding its connections. */
  presenceLeaseMs?: number;
  maxMessageBytes?: number;
  c2d?: Partial<C2dSettings>;
  feedback?: Partial<FeedbackSettings>;
  twinLimits?: Partial<TwinLimits>;
  now?: () => number;
  /** Told when background work (expiry sweeps, feedback batching) fails; it is retried on its next round. */
  backgroundFailed?: (err: unknown, what: string) => void;
}

export function createHub(deps: HubDependencies): Hub {
  const now = deps.now ?? Date.now;
  const node = randomUUID();
  const failed = deps.backgroundFailed ?? (() => undefined);
  // The cluster link needs the registry and the registry announces through it: the arrow closes the loop lazily.
  let cluster: ClusterConnections | undefined;
  let presence: Presence | undefined;
  const connections = new ConnectionRegistry(
    now,
    (key) => {
      cluster?.attached(key);
      presence?.held(key);
    },
    (key) => presence?.released(key),
  );
  cluster = new ClusterConnections(node, connections, deps.bus);
  presence = new Presence(connections, deps.bus, deps.presenceStore, {
    node,
    leaseMs: deps.presenceLeaseMs ?? DEFAULT_PRESENCE_LEASE_MS,
    now,
    failed,
  });
  const connectionInfo = (deviceId: string, moduleId?: string) => presence.info(deviceId, moduleId);
  const feedback = new FeedbackService(deps.c2dStore, deps.bus, { ...DEFAULT_FEEDBACK_SETTINGS, ...deps.feedback }, now, failed);
  const c2d = new C2dService(deps.c2dStore, deps.registryStore, deps.bus, feedback, { ...DEFAULT_C2D_SETTINGS, ...deps.c2d }, now, failed);
  const twins = new TwinService(deps.twinStore, deps.registryStore, connectionInfo, deps.bus, { ...DEFAULT_TWIN_LIMITS, ...deps.twinLimits }, now);
  const auth = new AuthService({ hostname: deps.info.hostname, policies: deps.policies, registry: deps.registryStore, now });
  const registry = new RegistryService(deps.registryStore, {
    now,
    connectionInfo,
    queuedMessages: (deviceId, moduleId) => c2d.count(moduleId === undefined ? { deviceId } : { deviceId, moduleId }),
    listener: {
      deviceDisabledOrDeleted: (deviceId, reason) => {
        connections.closeDevice(deviceId, reason);
        cluster.dropped(deviceId, undefined, reason);
      },
      deviceDeleted: (deviceId) => {
        presence.forget(deviceId);
        c2d.dropDevice(deviceId).catch((err: unknown) => failed(err, `dropping the queues of deleted device ${deviceId}`));
        twins.deleteDevice(deviceId).catch((err: unknown) => failed(err, `deleting the twins of deleted device ${deviceId}`));
      },
      moduleDeleted: (deviceId, moduleId) => {
        connections.closeIdentity(deviceId, moduleId, `module ${deviceId}/${moduleId} was deleted`);
        cluster.dropped(deviceId, moduleId, `module ${deviceId}/${moduleId} was deleted`);
        c2d.dropModule(deviceId, moduleId).catch((err: unknown) => failed(err, `emptying the queue of deleted module ${deviceId}/${moduleId}`));
        twins.deleteModule(deviceId, moduleId).catch((err: unknown) => failed(err, `deleting the twin of deleted module ${deviceId}/${moduleId}`));
      },
    },
  });
  return {
    info: deps.info,
    auth,
    registry,
    connections,
    devices: new DeviceConnectService(auth, deps.registryStore),
    telemetryReader: new TelemetryReader(deps.telemetryLog),
    consumerGroups: new ConsumerGroupService(deps.consumerGroupStore, {
      now,
      ...(deps.info.createdAt === undefined ? {} : { defaultCreatedAt: deps.info.createdAt }),
    }),
    c2d,
    twins,
    twinQueries: new TwinQueryService(twins, deps.registryStore, deps.twinQueryIndex),
    methods: new MethodService(deps.registryStore, deps.bus, now),
    telemetry: new TelemetryService(deps.telemetryLog, connections, {
      now,
      ...(deps.maxMessageBytes === undefined ? {} : { maxMessageBytes: deps.maxMessageBytes }),
    }),
    async start() {
      await presence.start();
      await c2d.start();
    },
    async stop() {
      await c2d.stop();
      cluster.stop();
      await presence.stop();
    },
  };
}
