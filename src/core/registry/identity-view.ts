import { etagOf, NEVER, type DeviceRecord, type ModuleRecord } from '../../domain/identity.js';

/** What a device's connection looks like from the registry's side; a later presence service supplies it. */
export interface ConnectionInfo {
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
}

export const DISCONNECTED: ConnectionInfo = {
  connectionState: 'Disconnected',
  connectionStateUpdatedTime: NEVER,
  lastActivityTime: NEVER,
  cloudToDeviceMessageCount: 0,
};

/** The Device object of Azure's service API, with every field the SDKs read. */
export function deviceView(d: DeviceRecord, conn: ConnectionInfo = DISCONNECTED) {
  return {
    deviceId: d.deviceId,
    generationId: d.generationId,
    etag: etagOf(d.version),
    connectionState: conn.connectionState,
    status: d.status,
    statusReason: d.statusReason,
    connectionStateUpdatedTime: conn.connectionStateUpdatedTime,
    statusUpdatedTime: d.statusUpdatedTime,
    lastActivityTime: conn.lastActivityTime,
    cloudToDeviceMessageCount: conn.cloudToDeviceMessageCount,
    authentication: d.authentication,
    capabilities: d.capabilities,
    deviceScope: d.deviceScope,
    parentScopes: d.parentScopes,
  };
}

export type DeviceView = ReturnType<typeof deviceView>;

export function moduleView(m: ModuleRecord, conn: ConnectionInfo = DISCONNECTED) {
  return {
    moduleId: m.moduleId,
    managedBy: m.managedBy,
    deviceId: m.deviceId,
    generationId: m.generationId,
    etag: etagOf(m.version),
    connectionState: conn.connectionState,
    connectionStateUpdatedTime: conn.connectionStateUpdatedTime,
    lastActivityTime: conn.lastActivityTime,
    cloudToDeviceMessageCount: conn.cloudToDeviceMessageCount,
    authentication: m.authentication,
  };
}

export type ModuleView = ReturnType<typeof moduleView>;
