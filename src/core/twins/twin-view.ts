import { etagOf, type DeviceRecord, type ModuleRecord } from '../../domain/identity.js';
import { twinEtagOf, type JsonObject, type TwinRecord, type TwinSection } from '../../domain/twin.js';
import type { ConnectionInfo } from '../registry/identity-view.js';

/** A section as the service API shows it: the properties plus `$metadata` and `$version`. */
function sectionView(section: TwinSection): JsonObject {
  return { ...section.properties, $metadata: section.metadata, $version: section.version };
}

/** A section as devices get it (MQTT GET, AMQP GET): the properties plus `$version`, no `$metadata`. */
export function deviceSectionView(section: TwinSection): JsonObject {
  return { ...section.properties, $version: section.version };
}

/** The Twin object of Azure's service API: the twin merged with the identity's registry fields and connection state. */
export function twinView(twin: TwinRecord, identity: DeviceRecord | ModuleRecord, device: DeviceRecord, conn: ConnectionInfo) {
  const isModule = 'moduleId' in identity;
  const auth = identity.authentication;
  return {
    deviceId: twin.deviceId,
    ...(isModule ? { moduleId: identity.moduleId } : {}),
    etag: twinEtagOf(twin.version),
    deviceEtag: etagOf(identity.version),
    status: device.status,
    statusReason: device.statusReason,
    statusUpdateTime: device.statusUpdatedTime,
    connectionState: conn.connectionState,
    lastActivityTime: conn.lastActivityTime,
    cloudToDeviceMessageCount: conn.cloudToDeviceMessageCount,
    authenticationType: auth.type,
    x509Thumbprint: auth.x509Thumbprint,
    modelId: '',
    version: twin.version,
    tags: twin.tags,
    properties: { desired: sectionView(twin.desired), reported: sectionView(twin.reported) },
    ...(isModule ? {} : { capabilities: device.capabilities, deviceScope: device.deviceScope, parentScopes: device.parentScopes }),
  };
}

export type TwinView = ReturnType<typeof twinView>;

/** `$lastUpdated` of what was never written, in the millisecond form of every other stamp. */
const NEVER_UPDATED = '0001-01-01T00:00:00.000Z';

/**
 * A twin nobody wrote yet: empty sections at version 1, as a new device's twin is in Azure. Its sections carry a fixed
 * "never" stamp (the registry keeps no creation time), so reads of an unwritten twin all look the same.
 */
export function emptyTwin(target: { deviceId: string; moduleId?: string }, at: string = NEVER_UPDATED): TwinRecord {
  const section = (): TwinSection => ({ properties: {}, version: 1, metadata: { $lastUpdated: at } });
  return { ...target, version: 1, tags: {}, desired: section(), reported: section() };
}
