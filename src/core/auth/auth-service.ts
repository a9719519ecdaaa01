import { HubError } from '../../domain/errors.js';
import type { Permission, SharedAccessPolicy } from '../../domain/permissions.js';
import type { Principal } from '../../domain/principal.js';
import { parseSasToken, SasFormatError, signatureMatches, type SasToken } from '../../domain/sas.js';
import type { DeviceRecord, ModuleRecord } from '../../domain/identity.js';
import type { RegistryStore } from '../../ports/registry-store.js';

const MAX_CACHED_TOKENS = 10_000;

export interface AuthServiceOptions {
  /** The name clients use for the hub; token audiences must start with it (with or without a `:port`). */
  hostname: string;
  policies: readonly SharedAccessPolicy[];
  registry: RegistryStore;
  now?: () => number;
}

/**
 * Verifies shared access signatures and decides what a principal may do. Every failure is a 401
 * IotHubUnauthorizedAccess whose message says why, without telling a caller whether an identity exists.
 */
export class AuthService {
  private readonly hostname: string;
  private readonly policies: Map<string, SharedAccessPolicy>;
  private readonly registry: RegistryStore;
  private readonly now: () => number;
  /**
   * Policy tokens already verified, until they expire: back ends send the same token on every request, and its HMAC
   * was a tenth of the hub's time per twin read. Policies are fixed for the hub's life, so a verified policy token stays
   * valid until its expiry. Device tokens are not cached: the device's keys and status are checked every time.
   */
  private readonly verifiedPolicyTokens = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(options: AuthServiceOptions) {
    this.hostname = options.hostname.toLowerCase();
    this.policies = new Map(options.policies.map((p) => [p.name, p]));
    this.registry = options.registry;
    this.now = options.now ?? Date.now;
  }

  async authenticate(tokenText: string | undefined): Promise<Principal> {
    return (await this.authenticateWithRecord(tokenText)).principal;
  }

  /**
   * As authenticate, also handing back the registry record a device or module token was checked against, so that
   * callers needing it (status, generation id) do not read it again.
   */
  async authenticateWithRecord(tokenText: string | undefined): Promise<Authenticated> {
    if (!tokenText) throw unauthorized('The request carries no SharedAccessSignature');
    let token: SasToken;
    try {
      token = parseSasToken(tokenText);
    } catch (err) {
      if (err instanceof SasFormatError) throw unauthorized(`Malformed SharedAccessSignature: ${err.message}`);
      throw err;
    }
    if (token.expiry * 1000 <= this.now()) throw unauthorized('The SharedAccessSignature has expired');
    if (token.keyName !== undefined) {
      const known = this.verifiedPolicyTokens.get(tokenText);
      if (known && known.expiresAt > this.now()) return { principal: known.principal };
    }
    const path = this.audiencePath(token.resource);
    if (token.keyName === undefined) return this.identityPrincipal(token, path);
    const principal = this.policyPrincipal(token, path);
    if (this.verifiedPolicyTokens.size >= MAX_CACHED_TOKENS) this.verifiedPolicyTokens.clear();
    this.verifiedPolicyTokens.set(tokenText, { principal, expiresAt: token.expiry * 1000 });
    return { principal };
  }

  /**
   * Tokens of the Event Hub-compatible endpoint: audience `sb://{hostname}[:port]/{path}`, always a policy token.
   * `@azure/event-hubs` keys the HMAC with the UTF-8 bytes of the key text rather than its base64-decoded bytes;
   * both conventions are accepted. The principal's scope is the path, starting with the event hub name.
   */
  async authenticateEventHub(tokenText: string | undefined): Promise<Principal & { kind: 'policy' }> {
    let token: SasToken;
    try {
      token = parseSasToken(tokenText ?? '');
    } catch (err) {
      if (err instanceof SasFormatError) throw unauthorized(`Malformed SharedAccessSignature: ${err.message}`);
      throw err;
    }
    if (token.expiry * 1000 <= this.now()) throw unauthorized('The SharedAccessSignature has expired');
    const match = /^(?:sb|amqps?):\/\/([^/]+)\/?(.*)$/i.exec(token.resource);
    if (!match) throw unauthorized(`The token's audience "${token.resource}" is not an sb:// address`);
    const path = this.audiencePath(`${match[1]}/${match[2]}`);
    const policy = token.keyName === undefined ? undefined : this.policies.get(token.keyName);
    const keys = policy ? [policy.primaryKey, policy.secondaryKey] : [];
    const utf8Keys = keys.map((k) => Buffer.from(k, 'utf8').toString('base64'));
    if (!policy || !signatureMatches(token, [...keys, ...utf8Keys])) {
      throw unauthorized('The SharedAccessSignature does not match a shared access policy of this hub');
    }
    return { kind: 'policy', policyName: policy.name, permissions: new Set(policy.permissions), scope: path };
  }

  /** For service APIs: a policy token for the whole hub that grants `permission`. */
  requirePermission(principal: Principal, permission: Permission): void {
    if (principal.kind !== 'policy') {
      throw unauthorized(`A device or module token cannot be used on the service API (needs ${permission})`);
    }
    if (principal.scope.length > 0) {
      throw unauthorized(`The token is scoped to "${principal.scope.join('/')}", the service API needs the whole hub`);
    }
    if (!principal.permissions.has(permission)) {
      throw unauthorized(`Policy ${principal.policyName} lacks the ${permission} permission`);
    }
  }

  /** For device-facing endpoints: may this principal act as the device (or module)? */
  requireDeviceAccess(principal: Principal, deviceId: string, moduleId?: string): void {
    if (principal.kind === 'device' && moduleId === undefined && principal.deviceId === deviceId) return;
    if (principal.kind === 'module' && principal.deviceId === deviceId && principal.moduleId === moduleId) return;
    if (principal.kind === 'policy' && principal.permissions.has('DeviceConnect')) {
      const target = moduleId === undefined ? ['devices', deviceId] : ['devices', deviceId, 'modules', moduleId];
      if (principal.scope.every((segment, i) => target[i] === segment)) return;
    }
    const who = moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`;
    throw unauthorized(`The token does not grant access to ${who}`);
  }

  /** Splits the decoded audience into path segments after a host that must be this hub's. */
  private audiencePath(resource: string): string[] {
    const [host = '', ...path] = resource.split('/');
    const bareHost = host.toLowerCase().replace(/:\d+$/, '');
    if (bareHost !== this.hostname) throw unauthorized(`The token's audience "${host}" is not this hub`);
    while (path.length > 0 && path[path.length - 1] === '') path.pop();
    return path;
  }

  private policyPrincipal(token: SasToken, scope: string[]): Principal {
    const policy = this.policies.get(token.keyName!);
    if (!policy || !signatureMatches(token, [policy.primaryKey, policy.secondaryKey])) {
      throw unauthorized('The SharedAccessSignature does not match a shared access policy of this hub');
    }
    return { kind: 'policy', policyName: policy.name, permissions: new Set(policy.permissions), scope };
  }

  private async identityPrincipal(token: SasToken, path: string[]): Promise<Authenticated> {
    const mismatch = () => unauthorized('The SharedAccessSignature does not match the identity it names');
    if (path[0] !== 'devices' || !path[1]) {
      throw unauthorized('A token signed with a device key must name devices/{deviceId}');
    }
    const deviceId = path[1];
    if (path.length === 2) {
      const device = await this.registry.getDevice(deviceId);
      const keys = device?.authentication.type === 'sas' ? device.authentication.symmetricKey : undefined;
      if (!device || !keys || !signatureMatches(token, [keys.primaryKey, keys.secondaryKey])) throw mismatch();
      return { principal: { kind: 'device', deviceId, generationId: device.generationId }, device };
    }
    if (path.length === 4 && path[2] === 'modules' && path[3]) {
      const moduleId = path[3];
      const mod = await this.registry.getModule(deviceId, moduleId);
      const keys = mod?.authentication.type === 'sas' ? mod.authentication.symmetricKey : undefined;
      if (!mod || !keys || !signatureMatches(token, [keys.primaryKey, keys.secondaryKey])) throw mismatch();
      return { principal: { kind: 'module', deviceId, moduleId, generationId: mod.generationId }, module: mod };
    }
    throw unauthorized('A token signed with a device key must name devices/{deviceId}[/modules/{moduleId}]');
  }
}

export interface Authenticated {
  principal: Principal;
  /** The record a device token was verified against. */
  device?: DeviceRecord;
  /** The record a module token was verified against. */
  module?: ModuleRecord;
}

function unauthorized(message: string): HubError {
  return new HubError('IotHubUnauthorizedAccess', message);
}
