/**
 * A message as the hub carries it, whatever protocol it came in on. Field names follow AMQP 1.0's message
 * properties, which is how the Event Hub-compatible endpoint hands them to back ends.
 */
export type PropertyValue = string | number | boolean | null;

export interface MessageProperties {
  messageId?: string;
  correlationId?: string;
  userId?: string;
  to?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Milliseconds since the Unix epoch. */
  absoluteExpiryTime?: number;
  /** Milliseconds since the Unix epoch. */
  creationTime?: number;
}

export interface HubMessage {
  body: Buffer;
  properties: MessageProperties;
  applicationProperties: Record<string, PropertyValue>;
  /**
   * Message annotations: what the hub stamps (`iothub-*`, see TELEMETRY_ANNOTATIONS) plus `dt-subject` and
   * `dt-dataschema`. Timestamps are numbers (ms since epoch); TIMESTAMP_ANNOTATIONS says which.
   */
  annotations: Record<string, string | number>;
}

export const TELEMETRY_ANNOTATIONS = {
  deviceId: 'iothub-connection-device-id',
  moduleId: 'iothub-connection-module-id',
  authMethod: 'iothub-connection-auth-method',
  authGenerationId: 'iothub-connection-auth-generation-id',
  enqueuedTime: 'iothub-enqueuedtime',
  messageSource: 'iothub-message-source',
  component: 'dt-subject',
  modelId: 'dt-dataschema',
} as const;

/** Annotations whose numbers are AMQP timestamps on the wire. */
export const TIMESTAMP_ANNOTATIONS: ReadonlySet<string> = new Set([TELEMETRY_ANNOTATIONS.enqueuedTime]);

/**
 * Azure counts a message's size as its body plus system property values plus application property names and
 * values (ASCII, so characters are bytes).
 */
export function messageSize(m: Pick<HubMessage, 'body' | 'properties' | 'applicationProperties'>): number {
  // for-in, not Object.values/entries: this runs for every message, and those allocate arrays.
  let size = m.body.length;
  const properties = m.properties as Record<string, unknown>;
  for (const key in properties) {
    const value = properties[key];
    if (value !== undefined) size += String(value).length;
  }
  for (const name in m.applicationProperties) {
    const value = m.applicationProperties[name];
    size += name.length + (value === null ? 0 : String(value).length);
  }
  return size;
}
