import type { AuthService } from '../../core/auth/auth-service.js';
import { isHubError } from '../../domain/errors.js';
import type { Claim } from './claims.js';

/** Does the claim let a client act as this device or module (its own token, or a DeviceConnect policy)? */
export function grantsDevice(auth: AuthService, claim: Claim, deviceId: string, moduleId?: string): boolean {
  try {
    auth.requireDeviceAccess(claim.principal, deviceId, moduleId);
    return true;
  } catch (err) {
    if (isHubError(err)) return false;
    throw err;
  }
}

/** Does the claim let a back end use the hub's service links (C2D send, feedback): ServiceConnect for the whole hub? */
export function grantsService(claim: Claim): boolean {
  const p = claim.principal;
  return p.kind === 'policy' && p.permissions.has('ServiceConnect') && p.scope.length === 0;
}

/**
 * Does the claim let a back end read this Event Hub-compatible path (segments after the host, e.g.
 * `[hub, 'ConsumerGroups', '$Default', 'Partitions', '0']`)? It needs a ServiceConnect policy whose audience is the
 * path or a prefix of it, compared case-insensitively as Event Hubs does.
 */
export function grantsEventHubPath(claim: Claim, path: readonly string[]): boolean {
  const p = claim.principal;
  if (p.kind !== 'policy' || !p.permissions.has('ServiceConnect')) return false;
  return isPrefix(p.scope, path);
}

/**
 * `$management` is addressed bare or as `{entity}/$management`, and tokens are put for `sb://{host}/{entity}/$management`
 * or for the entity: a ServiceConnect policy for this hub whose entity part (if any) matches the address's.
 */
export function grantsManagement(claim: Claim, path: readonly string[]): boolean {
  const p = claim.principal;
  if (p.kind !== 'policy' || !p.permissions.has('ServiceConnect')) return false;
  const entity = withoutManagement(path);
  return entity.length === 0 || isPrefix(withoutManagement(p.scope), entity);
}

function withoutManagement(path: readonly string[]): readonly string[] {
  return path.length > 0 && path[path.length - 1]!.toLowerCase() === '$management' ? path.slice(0, -1) : path;
}

function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment.toLowerCase() === path[i]!.toLowerCase());
}
