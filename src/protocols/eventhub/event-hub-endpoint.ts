import type { Logger } from 'pino';
import type { Message, Sender } from 'rhea';
import type { Hub } from '../../core/hub.js';

export type EventHubAddress = { kind: 'management' } | { kind: 'partition'; consumerGroup: string; partition: string };

/**
 * The Event Hub-compatible read side served on the AMQP port: `$management` READs and partition receivers.
 * The AMQP adapter owns connections, sessions and CBS; it hands this endpoint the links it authorised.
 * (Placeholder: the implementation is being written.)
 */
export class EventHubEndpoint {
  constructor(private readonly options: { hub: Hub; logger: Logger }) {}

  /**
   * Parses a link address with any `amqps://host[:port]/` prefix already removed: `{hub}/$management`,
   * `$management`, `{hub}/ConsumerGroups/{group}/Partitions/{id}` or `messages/events/ConsumerGroups/...`
   * (case-insensitive). Undefined when the address is not the endpoint's.
   */
  parseAddress(address: string): EventHubAddress | undefined {
    void address;
    return undefined;
  }

  /** Serves a client's partition receiver on our sender link; refuses it with a link error when it must. */
  openPartitionSender(link: Sender, address: { consumerGroup: string; partition: string }): void {
    void address;
    link.close({ condition: 'amqp:not-implemented', description: `${this.options.hub.info.name}: not served yet` });
  }

  /** Answers one `$management` request; the adapter sends the reply to the request's reply-to. */
  async handleManagementRequest(request: Message): Promise<Message> {
    return { body: null, correlation_id: request.message_id, application_properties: { 'status-code': 501, 'status-description': 'not implemented' } };
  }

  close(): void {}
}
