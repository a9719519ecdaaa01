import type { Logger } from 'pino';
import rhea, { type Delivery, type Message, type Receiver } from 'rhea';
import type { Hub } from '../../core/hub.js';
import { isHubError } from '../../domain/errors.js';
import type { ClaimStore } from './claims.js';
import { replyCorrelationId } from './correlation-id.js';
import { ReplySenders } from './reply-senders.js';
import { verifyClaim } from './verify-claim.js';

const SAS_TOKEN_TYPES = new Set(['servicebus.windows.net:sastoken', 'azure-devices.net:sastoken']);

/**
 * `$cbs`, AMQP claims-based security: put-token requests arrive on our receiver, each verified token becomes a claim
 * of the connection, and the reply goes to the client's `$cbs` receiver. The Node IoT SDKs treat anything but the
 * AMQP int 200 as a failure, and match replies by correlation id of the exact type they sent (protocol doc §2.2-2.3).
 */
export class CbsNode {
  readonly replies = new ReplySenders();

  constructor(
    private readonly hub: Hub,
    private readonly claims: ClaimStore,
    private readonly logger: Logger,
  ) {}

  /** Handles one request delivery; the returned promise settles once the reply is queued. */
  onRequest(receiver: Receiver, delivery: Delivery, request: Message): Promise<void> {
    delivery.accept();
    return this.answer(request).then(
      (outcome) => this.reply(receiver, request, outcome),
      (err: unknown) => {
        this.logger.error({ err }, 'AMQP $cbs request failed');
        this.reply(receiver, request, { status: 500, description: 'The hub failed to verify the token' });
      },
    );
  }

  private async answer(request: Message): Promise<{ status: number; description: string }> {
    const props = request.application_properties ?? {};
    const operation: unknown = props['operation'];
    if (operation !== 'put-token') return { status: 400, description: `Unsupported $cbs operation "${String(operation)}"` };
    const type: unknown = props['type'];
    if (typeof type !== 'string' || !SAS_TOKEN_TYPES.has(type)) {
      return { status: 401, description: `Token type "${String(type)}" is not supported; use a shared access signature` };
    }
    const name: unknown = props['name'];
    const body: unknown = request.body;
    const token = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : undefined;
    if (typeof name !== 'string' || !name || token === undefined) {
      return { status: 400, description: 'A put-token needs the audience in "name" and the token as a string body' };
    }
    try {
      this.claims.put(await verifyClaim(this.hub, token, name));
      return { status: 200, description: 'OK' };
    } catch (err) {
      if (!isHubError(err)) throw err;
      this.logger.info({ audience: name, err: err.message }, 'AMQP $cbs put-token refused');
      return { status: err.status === 404 ? 404 : err.status === 400 ? 400 : 401, description: err.message };
    }
  }

  private reply(receiver: Receiver, request: Message, outcome: { status: number; description: string }): void {
    const sender = this.replies.find(request.reply_to, receiver.session);
    if (!sender) {
      this.logger.info({ replyTo: request.reply_to }, 'AMQP $cbs reply dropped: the client has no $cbs receiver');
      return;
    }
    this.replies.send(sender, {
      body: undefined,
      correlation_id: replyCorrelationId(request),
      ...(request.reply_to === undefined ? {} : { to: request.reply_to }),
      application_properties: { 'status-code': rhea.types.wrap_int(outcome.status), 'status-description': outcome.description },
    });
  }
}
