/** Shared access policy permissions and the policies every new hub starts with, as Azure IoT Hub defines them. */
export const PERMISSIONS = ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface SharedAccessPolicy {
  name: string;
  primaryKey: string;
  secondaryKey: string;
  permissions: Permission[];
}

export const DEFAULT_POLICY_PERMISSIONS: Readonly<Record<string, readonly Permission[]>> = {
  iothubowner: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'],
  service: ['ServiceConnect'],
  device: ['DeviceConnect'],
  registryRead: ['RegistryRead'],
  registryReadWrite: ['RegistryRead', 'RegistryWrite'],
};

export const OWNER_POLICY = 'iothubowner';
