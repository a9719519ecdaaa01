import type { IPublishPacket } from 'mqtt-packet';
import { PendingMethodCalls } from '../../core/methods/pending-method-calls.js';
import { HubError } from '../../domain/errors.js';
import type { MethodRequest, MethodResponse } from '../../domain/method.js';
import { methodRequestTopic, parseMethodResponseTopic } from './method-topics.js';
import type { MqttConnection } from './mqtt-connection.js';
import { payloadOf } from './publish-payload.js';

/**
 * Direct method calls to one connection, while it holds a `methods` subscription: each call is published at QoS 0
 * with a request id (`$rid`) of this connection, and the device's PUBLISH to the response topic with that id
 * answers it. Serving stops on UNSUBSCRIBE; calls still out then may yet be answered. When the connection closes,
 * they fail at once.
 */
export class MethodCalls {
  readonly #pending = new PendingMethodCalls();
  #stopServing: (() => void) | undefined;
  #lastRid = 0;

  constructor(private readonly connection: MqttConnection) {}

  /** Starts serving the identity's calls if the connection qualifies and does not yet; otherwise does nothing. */
  start(): void {
    const { connection } = this;
    const identity = connection.identity;
    if (this.#stopServing || connection.closed || identity === undefined || !connection.session?.has('methods')) return;
    const target = identity.moduleId === undefined ? { deviceId: identity.deviceId } : { deviceId: identity.deviceId, moduleId: identity.moduleId };
    this.#stopServing = connection.ctx.hub.methods.serve(target, (request) => this.#call(request));
  }

  /** The client unsubscribed: no new calls. */
  stopServing(): void {
    this.#stopServing?.();
    this.#stopServing = undefined;
  }

  /** The connection closed: no new calls, and those awaiting an answer fail. */
  close(): void {
    this.stopServing();
    this.#pending.failAll('The device disconnected before it answered the method call.');
  }

  /**
   * A PUBLISH to the response topic. An answer to no call waiting (unknown, late, answered already) is ignored;
   * false when the topic does not parse.
   */
  answered(packet: IPublishPacket): boolean {
    const topic = parseMethodResponseTopic(packet.topic);
    if (!topic) return false;
    const payload = payloadOf(packet);
    const response: MethodResponse = { status: topic.status, payload };
    if (!this.#pending.answer(topic.rid, response)) this.connection.log.debug({ rid: topic.rid }, 'a method response for no call waiting');
    return true;
  }

  #call(request: MethodRequest): Promise<MethodResponse> {
    if (this.connection.closed) return Promise.reject(new HubError('DeviceNotOnline', 'The device disconnected.'));
    const rid = String(++this.#lastRid);
    const answer = this.#pending.add(rid, request.timeoutMs);
    this.connection.write({ cmd: 'publish', topic: methodRequestTopic(request.methodName, rid), payload: request.payload, qos: 0, dup: false, retain: false });
    return answer;
  }
}

/**
 * A PUBLISH to `$iothub/methods/res/...`. One whose topic does not parse closes the connection, like any topic the
 * hub does not serve. QoS 1 is acknowledged in turn with the publishes before it.
 */
export function handleMethodResponse(connection: MqttConnection, packet: IPublishPacket): void {
  if (!connection.methods.answered(packet)) {
    return connection.close('protocol-error', 'a method response whose topic holds no status or no $rid', { topic: packet.topic.slice(0, 200) });
  }
  if (packet.qos === 1) connection.inflight.acknowledgeInTurn(packet.messageId);
}
