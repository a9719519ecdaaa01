import type { SharedAccessPolicy } from '../domain/permissions.js';
import type { RegistryStore } from '../ports/registry-store.js';
import type { TelemetryLog } from '../ports/telemetry-log.js';
import type { ConsumerGroupStore } from '../ports/consumer-group-store.js';
import { ConsumerGroupService } from './eventhub/consumer-group-service.js';
import { AuthService } from './auth/auth-service.js';
import { ConnectionRegistry } from './connections/connection-registry.js';
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
}

export interface HubDependencies {
  info: HubInfo;
  policies: readonly SharedAccessPolicy[];
  registryStore: RegistryStore;
  telemetryLog: TelemetryLog;
  consumerGroupStore: ConsumerGroupStore;
  maxMessageBytes?: number;
  now?: () => number;
}

export function createHub(deps: HubDependencies): Hub {
  const now = deps.now ?? Date.now;
  const connections = new ConnectionRegistry(now);
  const auth = new AuthService({ hostname: deps.info.hostname, policies: deps.policies, registry: deps.registryStore, now });
  const registry = new RegistryService(deps.registryStore, {
    now,
    connectionInfo: (deviceId, moduleId) => connections.info(deviceId, moduleId),
    listener: {
      deviceDisabledOrDeleted: (deviceId, reason) => connections.closeDevice(deviceId, reason),
      moduleDeleted: (deviceId, moduleId) => connections.closeIdentity(deviceId, moduleId, `module ${deviceId}/${moduleId} was deleted`),
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
    telemetry: new TelemetryService(deps.telemetryLog, connections, {
      now,
      ...(deps.maxMessageBytes === undefined ? {} : { maxMessageBytes: deps.maxMessageBytes }),
    }),
  };
}
