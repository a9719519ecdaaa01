import type { Logger } from 'pino';
import type { Delivery, Receiver } from 'rhea';
import type { Hub } from '../../core/hub.js';
import type { C2dTarget } from '../../domain/c2d.js';
import { HubError, isHubError } from '../../domain/errors.js';
import { amqpErrorOf } from './amqp-errors.js';
import { toHubMessage, type AmqpMessage } from './amqp-to-hub-message.js';
import { CreditWindow } from './credit-window.js';
import { parseLinkAddress } from './link-address.js';

/**
 * A back end's `/messages/devicebound` sender, as our receiver (what `azure-iothub` `Client.send` opens): each
 * message names its device in `to`. Accepted once the message is durably queued; rejected with the condition the
 * service SDK translates otherwise (amqp:not-found for an unknown device, amqp:resource-limit-exceeded for a full
 * queue, amqp:link:message-size-exceeded for a large message).
 */
export class C2dSendLink {
  private readonly credit: CreditWindow;

  constructor(
    receiver: Receiver,
    private readonly hub: Hub,
    private readonly log: Logger,
    creditWindow: number,
  ) {
    this.credit = new CreditWindow(receiver, creditWindow);
  }

  onMessage(delivery: Delivery, message: AmqpMessage): void {
    let queued: Promise<unknown>;
    try {
      const target = targetOf(message.to);
      const { body, properties, applicationProperties } = toHubMessage(message);
      queued = this.hub.c2d.send(target, { body, properties, applicationProperties });
    } catch (err) {
      queued = Promise.reject(err);
    }
    queued.then(
      () => this.settle(delivery),
      (err: unknown) => {
        if (isHubError(err)) this.log.info({ to: message.to, errorCode: err.errorCode, reason: err.message }, 'cloud-to-device message refused');
        else this.log.error({ err, to: message.to }, 'queueing a cloud-to-device message failed');
        this.settle(delivery, err);
      },
    );
  }

  private settle(delivery: Delivery, err?: unknown): void {
    if (err === undefined) delivery.accept();
    else delivery.reject(amqpErrorOf(err));
    this.credit.settled();
  }
}

/** `/devices/{id}/messages/devicebound` or the module form, ids percent-encoded as the service SDK writes them. */
function targetOf(to: unknown): C2dTarget {
  const parsed = typeof to === 'string' ? parseLinkAddress(to) : undefined;
  if (parsed?.kind !== 'device' || parsed.link !== 'devicebound') {
    throw new HubError('ArgumentInvalid', `"to" must be /devices/{deviceId}/messages/devicebound (or the module form), not ${JSON.stringify(to ?? null)}`);
  }
  return parsed.moduleId === undefined ? { deviceId: parsed.deviceId } : { deviceId: parsed.deviceId, moduleId: parsed.moduleId };
}
