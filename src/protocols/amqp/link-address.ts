/**
 * Link addresses as the SDKs write them. The C SDK prefixes `amqps://{host}[:port]`, .NET and Node differ in case
 * (`serviceBound` / `servicebound`) and the service SDK percent-encodes device ids, so addresses are matched
 * case-insensitively after the prefix is removed, and ids are percent-decoded.
 */
export type DeviceLinkKind = 'events' | 'devicebound' | 'twin' | 'methods';

export type LinkAddress =
  | { kind: 'cbs' }
  | { kind: 'device'; link: DeviceLinkKind; deviceId: string; moduleId?: string }
  | { kind: 'service'; feature: 'cloud-to-device' | 'feedback' | 'file notifications' }
  /** Anything else: the Event Hub-compatible endpoint may know it; the path has no prefix and no leading `/`. */
  | { kind: 'other'; path: string };

const HOST_PREFIX = /^amqps?:\/\/[^/]*/i;
const DEVICE_PATH = /^\/devices\/([^/]+)(?:\/modules\/([^/]+))?\/(messages\/events|messages\/devicebound|twin|methods\/devicebound)\/?$/i;
const SERVICE_PATHS: Record<string, 'cloud-to-device' | 'feedback' | 'file notifications'> = {
  '/messages/devicebound': 'cloud-to-device',
  '/messages/servicebound/feedback': 'feedback',
  '/messages/servicebound/filenotifications': 'file notifications',
};
const DEVICE_LINK_KINDS: Record<string, DeviceLinkKind> = {
  'messages/events': 'events',
  'messages/devicebound': 'devicebound',
  twin: 'twin',
  'methods/devicebound': 'methods',
};

export function stripHostPrefix(address: string): string {
  return address.replace(HOST_PREFIX, '');
}

/** Undefined for an address that names a device but cannot be decoded (bad percent-encoding). */
export function parseLinkAddress(address: string): LinkAddress | undefined {
  const path = stripHostPrefix(address);
  if (path.toLowerCase() === '$cbs' || path.toLowerCase() === '/$cbs') return { kind: 'cbs' };
  const device = DEVICE_PATH.exec(path);
  if (device) {
    const deviceId = percentDecode(device[1]!);
    const moduleId = device[2] === undefined ? undefined : percentDecode(device[2]);
    if (deviceId === undefined || (device[2] !== undefined && moduleId === undefined)) return undefined;
    const link = DEVICE_LINK_KINDS[device[3]!.toLowerCase()]!;
    return moduleId === undefined ? { kind: 'device', link, deviceId } : { kind: 'device', link, deviceId, moduleId };
  }
  const feature = SERVICE_PATHS[path.toLowerCase().replace(/\/$/, '')];
  if (feature) return { kind: 'service', feature };
  return { kind: 'other', path: path.replace(/^\//, '') };
}

function percentDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export function describeDevice(deviceId: string, moduleId?: string): string {
  return moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`;
}
