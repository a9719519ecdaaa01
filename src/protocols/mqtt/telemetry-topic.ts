import type { DeviceIdentity } from '../../domain/device-identity.js';
import { segmentNames } from './id-segment.js';

/** A device-to-cloud topic split into its parts, ids as they appear in the topic (raw or percent-encoded). */
export interface TelemetryTopic {
  deviceSegment: string;
  moduleSegment?: string;
  /** The property bag text, still encoded, without trailing `/`. */
  bag: string;
}

const DEVICE_TOPIC = /^devices\/([^/]+)\/messages\/events(?:\/(.*))?$/s;
const MODULE_TOPIC = /^devices\/([^/]+)\/modules\/([^/]+)\/messages\/events(?:\/(.*))?$/s;

/**
 * `devices/{d}/messages/events/{bag}` or `devices/{d}/modules/{m}/messages/events/{bag}`; undefined for any other
 * topic. Trailing `/` are dropped: the Node SDK appends one after the bag of module output events.
 */
export function parseTelemetryTopic(topic: string): TelemetryTopic | undefined {
  const module = MODULE_TOPIC.exec(topic);
  if (module) return { deviceSegment: module[1]!, moduleSegment: module[2]!, bag: trimSlashes(module[3]) };
  const device = DEVICE_TOPIC.exec(topic);
  if (device) return { deviceSegment: device[1]!, bag: trimSlashes(device[2]) };
  return undefined;
}

export function formatTelemetryTopic(identity: Pick<DeviceIdentity, 'deviceId' | 'moduleId'>, bag: string): string {
  const base = identity.moduleId === undefined ? `devices/${identity.deviceId}` : `devices/${identity.deviceId}/modules/${identity.moduleId}`;
  return `${base}/messages/events/${bag}`;
}

/** A connection may publish only to its own identity's telemetry topic. */
export function topicBelongsTo(topic: TelemetryTopic, identity: Pick<DeviceIdentity, 'deviceId' | 'moduleId'>): boolean {
  if (!segmentNames(topic.deviceSegment, identity.deviceId)) return false;
  if (identity.moduleId === undefined) return topic.moduleSegment === undefined;
  return topic.moduleSegment !== undefined && segmentNames(topic.moduleSegment, identity.moduleId);
}

function trimSlashes(bag: string | undefined): string {
  return (bag ?? '').replace(/\/+$/, '');
}
