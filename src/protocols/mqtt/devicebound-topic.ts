import { ACK_PROPERTY, type C2dMessage } from '../../domain/c2d.js';
import type { PropertyValue } from '../../domain/message.js';
import { encodePropertyBag, type PropertyBagEntry } from './property-bag.js';

/**
 * The topic a cloud-to-device message is published on: `devices/{deviceId}/messages/devicebound/{property bag}`,
 * the bag in the order IoT Hub writes it: `$.mid`, `$.exp`, `$.to`, `$.cid`, `$.uid`, `$.ct`, `$.ce`, `iothub-ack`,
 * then the application properties. The device id goes in raw, as IoT Hub does. The bag percent-encodes `/`, so
 * SDKs find it as the fifth topic segment.
 */
export function deviceboundTopic(message: C2dMessage): string {
  return `devices/${message.deviceId}/messages/devicebound/${encodePropertyBag(bagEntries(message))}`;
}

function* bagEntries({ content }: C2dMessage): Generator<PropertyBagEntry> {
  const { properties: p, applicationProperties: app } = content;
  const system: Array<[string, string | undefined]> = [
    ['$.mid', p.messageId],
    ['$.exp', p.absoluteExpiryTime === undefined ? undefined : isoTime(p.absoluteExpiryTime)],
    ['$.to', p.to],
    ['$.cid', p.correlationId],
    ['$.uid', p.userId],
    ['$.ct', p.contentType],
    ['$.ce', p.contentEncoding],
  ];
  for (const [key, value] of system) if (value !== undefined) yield [key, value];
  if (Object.hasOwn(app, ACK_PROPERTY)) yield [ACK_PROPERTY, text(app[ACK_PROPERTY]!)];
  // A property without a name has no form in a bag.
  for (const [key, value] of Object.entries(app)) if (key !== ACK_PROPERTY && key !== '') yield [key, text(value)];
}

/** A bare key in the bag means null. */
function text(value: PropertyValue): string | null {
  return value === null ? null : String(value);
}

/** Undefined for times a Date cannot hold (AMQP senders may set any 64-bit timestamp). */
function isoTime(ms: number): string | undefined {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
