/**
 * A device or module that has proved who it is on a connection (or a request). Protocol adapters obtain one from
 * DeviceConnectService and pass it to the services, which then need no registry lookup per message.
 */
export interface DeviceIdentity {
  deviceId: string;
  moduleId?: string;
  generationId: string;
  /** Whose key signed the credentials: the identity's own (device/module) or a hub policy (hub). */
  authScope: 'device' | 'module' | 'hub';
  authType: 'sas' | 'x509';
  /** Plug and Play model id the device announced, if any. */
  modelId?: string;
}

/** One key per identity: a device and each of its modules hold separate connections. */
export function identityKey(deviceId: string, moduleId?: string): string {
  return moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`;
}
