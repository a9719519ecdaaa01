import type { Logger } from 'pino';
import type { AmqpError, Delivery, Message, Receiver } from 'rhea';
import type { Hub } from '../../core/hub.js';
import type { DeviceIdentity } from '../../domain/device-identity.js';
import { isHubError } from '../../domain/errors.js';
import type { HubMessage } from '../../domain/message.js';
import { amqpErrorOf } from './amqp-errors.js';
import { BATCH_MESSAGE_FORMAT, decodeBatch, toHubMessage } from './amqp-to-hub-message.js';
import { CreditWindow } from './credit-window.js';

/**
 * A device's (or module's) telemetry sender, `/devices/{id}[/modules/{mid}]/messages/events`, as our receiver.
 * It gets credit only once authorised. A delivery is accepted only after the hub made it durable and rejected with
 * a condition the SDKs translate otherwise; never released, which the Node SDK reports as success.
 */
export class TelemetryLink {
  private identity: DeviceIdentity | undefined;
  private credit: CreditWindow | undefined;

  constructor(
    readonly receiver: Receiver,
    private readonly hub: Hub,
    private readonly logger: Logger,
  ) {}

  /** Starts the flow of messages for a confirmed identity. */
  authorise(identity: DeviceIdentity, creditWindow: number): void {
    this.identity = identity;
    this.credit = new CreditWindow(this.receiver, creditWindow);
  }

  onMessage(delivery: Delivery, message: Message | Buffer, format: number): void {
    const identity = this.identity;
    if (!identity) {
      // Only a client that ignores link credit gets here: none was granted yet.
      delivery.reject({ condition: 'amqp:unauthorized-access', description: 'The link is not authorised yet' });
      return;
    }
    if (format !== 0 && format !== BATCH_MESSAGE_FORMAT) {
      this.settle(delivery, { condition: 'amqp:not-implemented', description: `Message format ${format} is not supported` });
      return;
    }
    let messages: HubMessage[];
    try {
      messages = Buffer.isBuffer(message) ? decodeBatch(message) : [toHubMessage(message)];
    } catch (err) {
      this.settle(delivery, amqpErrorOf(err));
      return;
    }
    const durable = messages.length === 1 ? this.hub.telemetry.send(identity, messages[0]!) : this.hub.telemetry.sendBatch(identity, messages);
    durable.then(
      () => this.settle(delivery),
      (err: unknown) => {
        if (!isHubError(err)) this.logger.error({ err, deviceId: identity.deviceId }, 'storing AMQP telemetry failed');
        this.settle(delivery, amqpErrorOf(err));
      },
    );
  }

  private settle(delivery: Delivery, error?: AmqpError): void {
    if (error) delivery.reject(error);
    else delivery.accept();
    this.credit?.settled();
  }
}
