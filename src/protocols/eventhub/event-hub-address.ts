/** A link address of the Event Hub-compatible endpoint, with the entity (Event Hub name) it names, if any. */
export type ParsedEventHubAddress =
  | { kind: 'management'; entity?: string }
  | { kind: 'partition'; entity: string; consumerGroup: string; partition: string };

const HOST_PREFIX = /^amqps?:\/\/[^/]*/i;
const MANAGEMENT = /^(?:(.+)\/)?\$management$/i;
const PARTITION = /^(.+)\/consumergroups\/([^/]+)\/partitions\/([^/]+)$/i;

/**
 * Parses `$management`, `{entity}/$management` and `{entity}/ConsumerGroups/{group}/Partitions/{id}`, case-insensitively,
 * after dropping an `amqps://host[:port]` prefix and surrounding slashes (the C SDK prefixes addresses with the host,
 * IoT Hub documents the built-in path with a leading slash). The entity may contain slashes (`messages/events`).
 * Undefined for anything else.
 */
export function parseEventHubAddress(address: string): ParsedEventHubAddress | undefined {
  const path = address.replace(HOST_PREFIX, '').replace(/^\/+|\/+$/g, '');
  const management = MANAGEMENT.exec(path);
  if (management) return management[1] === undefined ? { kind: 'management' } : { kind: 'management', entity: management[1] };
  const partition = PARTITION.exec(path);
  if (partition) return { kind: 'partition', entity: partition[1]!, consumerGroup: partition[2]!, partition: partition[3]! };
  return undefined;
}
