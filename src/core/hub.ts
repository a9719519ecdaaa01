import type { RegistryStore } from '../ports/registry-store.js';
import { AuthService } from './auth/auth-service.js';
import { RegistryService } from './registry/registry-service.js';
import type { SharedAccessPolicy } from '../domain/permissions.js';

export interface HubInfo {
  name: string;
  hostname: string;
}

/** The facade protocol adapters receive: every hub service, nothing about storage or wiring. */
export interface Hub {
  info: HubInfo;
  auth: AuthService;
  registry: RegistryService;
}

export interface HubDependencies {
  info: HubInfo;
  policies: readonly SharedAccessPolicy[];
  registryStore: RegistryStore;
  now?: () => number;
}

export function createHub(deps: HubDependencies): Hub {
  const now = deps.now ?? Date.now;
  return {
    info: deps.info,
    auth: new AuthService({ hostname: deps.info.hostname, policies: deps.policies, registry: deps.registryStore, now }),
    registry: new RegistryService(deps.registryStore, now),
  };
}
