import type { Logger } from 'pino';
import rhea, { type Delivery, type Message, type Receiver } from 'rhea';
import type { Hub } from '../../core/hub.js';
import type { EventHubEndpoint } from '../eventhub/event-hub-endpoint.js';
import { grantsManagement } from './claim-grants.js';
import type { ClaimStore } from './claims.js';
import { replyCorrelationId } from './correlation-id.js';
import { ReplySenders } from './reply-senders.js';
import { verifyClaim } from './verify-claim.js';

/**
 * The Event Hub-compatible `$management` node: requests arrive on our receiver, the endpoint answers them and the
 * reply goes to the client's receiver named by `reply-to`. A request is authorised by a `$cbs` claim for the node
 * (`sb://{host}/{hub}/$management` or a prefix) or by the token in its `security_token` application property.
 */
export class ManagementNode {
  readonly replies = new ReplySenders();

  constructor(
    private readonly hub: Hub,
    private readonly endpoint: EventHubEndpoint,
    private readonly claims: ClaimStore,
    private readonly logger: Logger,
  ) {}

  /** `path`: the segments of the address the request link was attached to. */
  async onRequest(receiver: Receiver, delivery: Delivery, request: Message, path: readonly string[]): Promise<void> {
    delivery.accept();
    let reply: Message;
    try {
      reply = (await this.authorised(request, path)) ? await this.endpoint.handleManagementRequest(request) : unauthorised(request);
    } catch (err) {
      this.logger.error({ err }, 'AMQP $management request failed');
      reply = status(request, 500, 'The hub failed to answer the request');
    }
    if (reply.correlation_id === undefined) reply.correlation_id = replyCorrelationId(request);
    const props = reply.application_properties;
    if (props && typeof props['status-code'] === 'number') props['status-code'] = rhea.types.wrap_int(props['status-code']);
    const sender = this.replies.find(request.reply_to, receiver.session);
    if (sender) this.replies.send(sender, reply);
    else this.logger.info({ replyTo: request.reply_to }, 'AMQP $management reply dropped: the client has no $management receiver');
  }

  private async authorised(request: Message, path: readonly string[]): Promise<boolean> {
    if (this.claims.find((c) => grantsManagement(c, path))) return true;
    const token: unknown = request.application_properties?.['security_token'];
    if (typeof token !== 'string') return false;
    try {
      return grantsManagement(await verifyClaim(this.hub, token), path);
    } catch {
      return false;
    }
  }
}

function unauthorised(request: Message): Message {
  const reply = status(request, 401, 'No token on this connection grants access to $management');
  reply.application_properties!['error-condition'] = 'amqp:unauthorized-access';
  return reply;
}

function status(request: Message, code: number, description: string): Message {
  return {
    body: undefined,
    correlation_id: replyCorrelationId(request),
    application_properties: { 'status-code': rhea.types.wrap_int(code), 'status-description': description },
  };
}
