import type { Logger } from 'pino';
import type { Delivery, link as Link, Receiver, Sender } from 'rhea';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { TwinTarget } from '../../domain/twin.js';
import type { AmqpMessage } from './amqp-to-hub-message.js';
import { describeDevice } from './link-address.js';
import { TwinChannel } from './twin-channel.js';

/** Twin requests a device may have outstanding on its request link. */
const TWIN_REQUEST_CREDIT = 100;

/**
 * The twin channels of one connection: a device's pair of links on `/devices/{id}/twin`, paired by the channel
 * correlation id (twin-channel.ts serves them). A channel lives while at least one of its links does.
 */
export class TwinLinks {
  private readonly channels = new Map<string, TwinChannel>();

  constructor(
    private readonly twins: TwinService,
    private readonly log: Logger,
  ) {}

  /** The key that pairs a link with the other of its channel. */
  channelKeyOf(link: Link, target: TwinTarget): string {
    const channelId = String((link.properties as Record<string, unknown> | undefined)?.['com.microsoft:channel-correlation-id'] ?? '');
    return `${describeDevice(target.deviceId, target.moduleId)}|${channelId}`;
  }

  /** A link of the channel was authorised: answers go out on the device's receiver, requests come in on its sender. */
  opened(link: Link, channelKey: string, target: TwinTarget): void {
    let channel = this.channels.get(channelKey);
    if (!channel) {
      channel = new TwinChannel(this.twins, target, this.log.child({ deviceId: target.deviceId, moduleId: target.moduleId }));
      this.channels.set(channelKey, channel);
    }
    if (link.is_sender()) channel.attachSender(link as Sender);
    else (link as Receiver).add_credit(TWIN_REQUEST_CREDIT);
  }

  /** A request on the device's sender link; false when its channel is not authorised yet. */
  onRequest(receiver: Receiver, channelKey: string, delivery: Delivery, message: AmqpMessage): boolean {
    const channel = this.channels.get(channelKey);
    if (!channel) return false;
    channel.onRequest(delivery, message);
    receiver.add_credit(1);
    return true;
  }

  /** A link of the channel went away; `others` says whether the channel still has a link. */
  closed(link: Link, channelKey: string, others: boolean): void {
    const channel = this.channels.get(channelKey);
    if (!channel) return;
    if (link.is_sender()) channel.detachSender();
    if (others) return;
    channel.close();
    this.channels.delete(channelKey);
  }

  closeAll(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
