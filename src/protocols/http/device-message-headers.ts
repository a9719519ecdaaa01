import type { HubMessage, MessageProperties } from '../../domain/message.js';

const APP_PREFIX = 'iothub-app-';

/** HTTP header (lower case) -> message property, as the device SDKs send them (union of Node and C#). */
const SYSTEM_HEADERS: Record<string, keyof MessageProperties> = {
  'iothub-messageid': 'messageId',
  'iothub-correlationid': 'correlationId',
  'iothub-userid': 'userId',
  'iothub-to': 'to',
  'iothub-contenttype': 'contentType',
  'iothub-contentencoding': 'contentEncoding',
  'iothub-expiry': 'absoluteExpiryTime',
  'iothub-creationtimeutc': 'creationTime',
};

const TIME_PROPERTIES = new Set<keyof MessageProperties>(['absoluteExpiryTime', 'creationTime']);

/**
 * Reads a device message from name/value pairs: `iothub-app-{name}` are application properties (name case kept),
 * the system headers above become message properties, `dt-subject` is the component and `iothub-interface-id` the
 * security interface marker. Used for the headers of a single message and the `properties` of a batch element.
 */
export function messageFromHeaders(pairs: Iterable<readonly [string, string]>, body: Buffer): HubMessage {
  const message: HubMessage = { body, properties: {}, applicationProperties: {}, annotations: {} };
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    if (name.startsWith(APP_PREFIX) && name.length > APP_PREFIX.length) {
      message.applicationProperties[rawName.slice(APP_PREFIX.length)] = value;
    } else if (name === 'dt-subject') {
      message.annotations['dt-subject'] = value;
    } else if (name === 'iothub-interface-id') {
      message.annotations['iothub-interface-id'] = value;
    } else {
      const property = SYSTEM_HEADERS[name];
      if (!property || value === '') continue;
      if (TIME_PROPERTIES.has(property)) {
        const ms = Date.parse(value);
        if (!Number.isNaN(ms)) (message.properties as Record<string, number>)[property] = ms;
      } else (message.properties as Record<string, string>)[property] = value;
    }
  }
  // The device sets `to` to its own path; it means nothing for telemetry.
  delete message.properties.to;
  return message;
}

/** Node's rawHeaders as pairs, keeping the case the client used. */
export function headerPairs(rawHeaders: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  return pairs;
}
