import type { Permission } from './permissions.js';

/**
 * Who is calling, as established by authentication. Adapters obtain one from the auth service and hand it to the
 * hub services, which decide what it may do.
 */
export type Principal =
  | {
      kind: 'policy';
      policyName: string;
      permissions: ReadonlySet<Permission>;
      /** Decoded path segments of the token's audience after the host: [] for the whole hub, ['devices','d1'] ... */
      scope: readonly string[];
    }
  | { kind: 'device'; deviceId: string; generationId: string }
  | { kind: 'module'; deviceId: string; moduleId: string; generationId: string };

export function describePrincipal(p: Principal): string {
  switch (p.kind) {
    case 'policy':
      return `policy ${p.policyName}`;
    case 'device':
      return `device ${p.deviceId}`;
    case 'module':
      return `module ${p.deviceId}/${p.moduleId}`;
  }
}
