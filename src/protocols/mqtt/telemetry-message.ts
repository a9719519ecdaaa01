import { TELEMETRY_ANNOTATIONS, type HubMessage } from '../../domain/message.js';
import type { PropertyBagEntry } from './property-bag.js';

export const RETAIN_PROPERTY = 'mqtt-retain';
export const OUTPUT_NAME_PROPERTY = 'iothub-outputname';
export const INTERFACE_ID_ANNOTATION = 'iothub-interface-id';

type Apply = (message: HubMessage, value: string) => boolean;

const text =
  (field: 'messageId' | 'correlationId' | 'userId' | 'to' | 'contentType' | 'contentEncoding'): Apply =>
  (m, v) => {
    m.properties[field] = v;
    return true;
  };

const time =
  (field: 'absoluteExpiryTime' | 'creationTime'): Apply =>
  (m, v) => {
    const ms = parseIsoTime(v);
    if (ms !== undefined) m.properties[field] = ms;
    return ms !== undefined;
  };

/** System properties of the device-to-cloud property bag (IoT Hub MQTT support, "Sending device-to-cloud messages"). */
const SYSTEM_PROPERTIES: ReadonlyMap<string, Apply> = new Map(Object.entries({
  '$.mid': text('messageId'),
  '$.cid': text('correlationId'),
  '$.uid': text('userId'),
  '$.to': text('to'),
  '$.ct': text('contentType'),
  '$.ce': text('contentEncoding'),
  '$.exp': time('absoluteExpiryTime'),
  '$.ctime': time('creationTime'),
  '$.sub': (m, v) => {
    m.annotations[TELEMETRY_ANNOTATIONS.component] = v;
    return true;
  },
  '$.on': (m, v) => {
    m.applicationProperties[OUTPUT_NAME_PROPERTY] = v;
    return true;
  },
  '$.ifid': (m, v) => {
    m.annotations[INTERFACE_ID_ANNOTATION] = v;
    return true;
  },
}));

export interface TelemetryMessage {
  message: HubMessage;
  /** System properties whose value could not be used (null, or a time that is not ISO 8601), for the log. */
  unusable: readonly string[];
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * The HubMessage of a telemetry PUBLISH. Keys starting with `$.` are system properties (unknown ones, such as the
 * C SDK's `$.diagid`, are ignored); every other key is an application property. A later duplicate wins.
 */
export function telemetryMessage(bag: readonly PropertyBagEntry[], body: Buffer, retain: boolean): TelemetryMessage {
  const message: HubMessage = { body, properties: {}, applicationProperties: {}, annotations: {} };
  let unusable: string[] | undefined;
  for (const [key, value] of bag) {
    if (!key.startsWith('$.')) {
      // defineProperty, not assignment: a property named __proto__ must stay a property.
      Object.defineProperty(message.applicationProperties, key, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const apply = SYSTEM_PROPERTIES.get(key);
    if (apply === undefined) continue;
    if (value === null || !apply(message, value)) (unusable ??= []).push(key);
  }
  // IoT Hub does not retain messages; it tells the back end the device asked for it.
  if (retain) message.applicationProperties[RETAIN_PROPERTY] = 'true';
  return { message, unusable: unusable ?? NONE };
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Milliseconds since the epoch of an ISO 8601 date-time with a zone; undefined for anything else. */
function parseIsoTime(value: string): number | undefined {
  if (!ISO_8601.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
