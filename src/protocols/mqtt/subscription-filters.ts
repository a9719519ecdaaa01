import type { DeviceIdentity } from '../../domain/device-identity.js';
import { segmentNames } from './id-segment.js';

/** What a subscription is for: the hub routes deliveries by kind, whatever spelling of the filter was used. */
export type SubscriptionKind = 'c2d' | 'methods' | 'twinResponses' | 'twinDesired' | 'moduleInputs';

const FIXED: ReadonlyMap<string, SubscriptionKind> = new Map([
  ['$iothub/methods/POST/#', 'methods'],
  ['$iothub/twin/res/#', 'twinResponses'],
  ['$iothub/twin/PATCH/properties/desired/#', 'twinDesired'],
]);

const C2D = /^devices\/([^/]+)\/messages\/devicebound\/#$/;
const MODULE_INPUTS = /^devices\/([^/]+)\/modules\/([^/]+)\/inputs\/#$/;

/**
 * The kind of a topic filter IoT Hub documents for this identity, or undefined for any other filter. Devices may
 * take C2D messages, modules their inputs; both may take twin and method filters. Ids may be raw or
 * percent-encoded.
 */
export function classifyFilter(filter: string, identity: Pick<DeviceIdentity, 'deviceId' | 'moduleId'>): SubscriptionKind | undefined {
  const fixed = FIXED.get(filter);
  if (fixed !== undefined) return fixed;
  if (identity.moduleId === undefined) {
    const c2d = C2D.exec(filter);
    return c2d && segmentNames(c2d[1]!, identity.deviceId) ? 'c2d' : undefined;
  }
  const inputs = MODULE_INPUTS.exec(filter);
  if (inputs && segmentNames(inputs[1]!, identity.deviceId) && segmentNames(inputs[2]!, identity.moduleId)) return 'moduleInputs';
  return undefined;
}
