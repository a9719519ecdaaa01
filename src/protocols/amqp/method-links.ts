import type { Logger } from 'pino';
import rhea, { type Delivery, type link as Link, type Receiver, type Sender } from 'rhea';
import type { Hub } from '../../core/hub.js';
import { PendingMethodCalls } from '../../core/methods/pending-method-calls.js';
import { identityKey, type DeviceIdentity } from '../../domain/device-identity.js';
import { HubError } from '../../domain/errors.js';
import type { MethodRequest, MethodResponse } from '../../domain/method.js';
import { amqpErrorOf } from './amqp-errors.js';
import { toHubMessage, type AmqpMessage } from './amqp-to-hub-message.js';
import { CreditWindow } from './credit-window.js';

const METHOD_NAME_PROPERTY = 'IoThub-methodname';
const STATUS_PROPERTY = 'IoThub-status';
const CHANNEL_PROPERTY = 'com.microsoft:channel-correlation-id';
/** Answers a device may have unsettled on its method sender; each is settled as it arrives. */
const RESPONSE_CREDIT_WINDOW = 100;

/**
 * One pair of direct method links of a device (or module), `/devices/{id}[/modules/{mid}]/methods/devicebound`,
 * matched by their `com.microsoft:channel-correlation-id` (protocol doc §3.1, §3.5): the device's receiver, our
 * sender, takes calls; the device's sender, our receiver, brings the answers.
 */
class MethodChannel {
  requests: Sender | undefined;
  responses: { receiver: Receiver; credit: CreditWindow } | undefined;
  readonly pending = new PendingMethodCalls();
  private stopServing: (() => void) | undefined;

  constructor(
    private readonly hub: Hub,
    readonly identity: DeviceIdentity,
  ) {}

  /** Serves calls while both links are confirmed and the device has given credit for calls. */
  refresh(): void {
    const ready = this.requests !== undefined && this.responses !== undefined;
    if (ready && !this.stopServing && this.requests!.sendable()) {
      const { deviceId, moduleId } = this.identity;
      this.stopServing = this.hub.methods.serve(moduleId === undefined ? { deviceId } : { deviceId, moduleId }, (request) => this.call(request));
    } else if (!ready && this.stopServing) {
      this.stopServing();
      this.stopServing = undefined;
      this.pending.failAll('The device detached its method links before it answered the method call.');
    }
  }

  close(): void {
    this.requests = undefined;
    this.responses = undefined;
    this.refresh();
  }

  /**
   * A call goes out as the Node, C and .NET SDKs read it: the request id as a uuid correlation id, the method name
   * as an application property, the payload as one data section.
   */
  private call(request: MethodRequest): Promise<MethodResponse> {
    const sender = this.requests;
    if (!sender?.sendable()) return Promise.reject(new HubError('DeviceNotOnline', 'The device gives no credit for method calls.'));
    const answer = this.pending.add(request.requestId.toLowerCase(), request.timeoutMs);
    sender.send({
      correlation_id: rhea.string_to_uuid(request.requestId) as unknown as string,
      application_properties: { [METHOD_NAME_PROPERTY]: request.methodName },
      body: rhea.message.data_section(request.payload),
    });
    return answer;
  }
}

/**
 * The direct method links of one AMQP connection. The connection routes attaches, messages, credit and detaches of
 * `methods` links here once it has authorised them.
 */
export class MethodLinks {
  private readonly channels = new Map<string, MethodChannel>();
  private readonly channelOf = new Map<Link, MethodChannel>();

  constructor(
    private readonly hub: Hub,
    private readonly log: Logger,
  ) {}

  /** A methods link whose identity the registry confirmed. */
  opened(link: Link, identity: DeviceIdentity): void {
    const key = `${identityKey(identity.deviceId, identity.moduleId)}\n${channelIdOf(link)}`;
    let channel = this.channels.get(key);
    if (!channel) this.channels.set(key, (channel = new MethodChannel(this.hub, identity)));
    this.channelOf.set(link, channel);
    if (link.is_sender()) channel.requests = link as Sender;
    else channel.responses = { receiver: link as Receiver, credit: new CreditWindow(link as Receiver, RESPONSE_CREDIT_WINDOW) };
    channel.refresh();
  }

  /** Our sender got credit: the device can now take calls. */
  sendable(sender: Sender): void {
    this.channelOf.get(sender)?.refresh();
  }

  /**
   * An answer on the device's sender. It arrives unsettled and is accepted whether or not a call waits for it (a
   * late answer is no error of the device's); one without a readable correlation id or status is rejected.
   */
  onMessage(receiver: Receiver, delivery: Delivery, message: AmqpMessage): void {
    const channel = this.channelOf.get(receiver);
    if (!channel?.responses) {
      delivery.reject({ condition: 'amqp:not-allowed', description: 'This link is not authorised yet' });
      return;
    }
    let id: string;
    let response: MethodResponse;
    try {
      id = correlationKey(message.correlation_id);
      response = { status: statusOf(message.application_properties?.[STATUS_PROPERTY]), payload: toHubMessage(message).body };
    } catch (err) {
      delivery.reject(amqpErrorOf(err));
      channel.responses.credit.settled();
      return;
    }
    delivery.accept();
    channel.responses.credit.settled();
    if (!channel.pending.answer(id, response)) this.log.debug({ deviceId: channel.identity.deviceId, correlationId: id }, 'a method response for no call waiting');
  }

  /** A methods link detached (or its session or connection ended): the pair no longer serves calls. */
  closed(link: Link): void {
    const channel = this.channelOf.get(link);
    if (!channel) return;
    this.channelOf.delete(link);
    if (channel.requests === link) channel.requests = undefined;
    if (channel.responses?.receiver === link) channel.responses = undefined;
    channel.refresh();
    if (!channel.requests && !channel.responses) {
      for (const [key, c] of this.channels) if (c === channel) this.channels.delete(key);
    }
  }

  closeAll(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    this.channelOf.clear();
  }
}

/** The pair's id; a client that sends none has one pair per identity. */
function channelIdOf(link: Link): string {
  const id: unknown = link.properties?.[CHANNEL_PROPERTY];
  return typeof id === 'string' ? id : '';
}

/** Request ids are UUIDs; the Node SDK echoes one back as a uuid, other clients as a string in either case. */
function correlationKey(id: unknown): string {
  if (Buffer.isBuffer(id) && id.length === 16) return rhea.uuid_to_string(id).toLowerCase();
  if (typeof id === 'string' && id !== '') return id.toLowerCase();
  throw new HubError('ArgumentInvalid', 'A method response needs the correlation id of its request');
}

function statusOf(value: unknown): number {
  const status = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof status !== 'number' || !Number.isInteger(status)) throw new HubError('ArgumentInvalid', `A method response needs an integer ${STATUS_PROPERTY} application property`);
  return status;
}
