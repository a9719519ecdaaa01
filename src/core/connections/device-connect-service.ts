import type { DeviceIdentity } from '../../domain/device-identity.js';
import { HubError } from '../../domain/errors.js';
import type { RegistryStore } from '../../ports/registry-store.js';
import type { AuthService } from '../auth/auth-service.js';

/**
 * Turns credentials presented on a device-facing endpoint into a DeviceIdentity: the token must be valid, grant
 * access to the identity named, and the identity must exist and be enabled.
 */
export class DeviceConnectService {
  constructor(
    private readonly auth: AuthService,
    private readonly registry: RegistryStore,
  ) {}

  async authenticate(token: string | undefined, deviceId: string, moduleId?: string, modelId?: string): Promise<DeviceIdentity> {
    const { principal, device: verified, module: verifiedModule } = await this.auth.authenticateWithRecord(token);
    this.auth.requireDeviceAccess(principal, deviceId, moduleId);
    // Records the token was verified against are current; only what it did not cover is read here.
    const device = verified ?? (await this.registry.getDevice(deviceId));
    if (!device) throw new HubError('DeviceNotFound', `Device ${deviceId} is not registered`);
    if (device.status !== 'enabled') throw new HubError('DeviceDisabled', `Device ${deviceId} is disabled`);
    let generationId = device.generationId;
    if (moduleId !== undefined) {
      const mod = verifiedModule ?? (await this.registry.getModule(deviceId, moduleId));
      if (!mod) throw new HubError('ModuleNotFound', `Module ${moduleId} is not registered on device ${deviceId}`);
      generationId = mod.generationId;
    }
    const identity: DeviceIdentity = {
      deviceId,
      generationId,
      authScope: principal.kind === 'policy' ? 'hub' : moduleId === undefined ? 'device' : 'module',
      authType: 'sas',
    };
    if (moduleId !== undefined) identity.moduleId = moduleId;
    if (modelId) identity.modelId = modelId;
    return identity;
  }
}
