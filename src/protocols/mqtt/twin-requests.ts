import type { IPublishPacket } from 'mqtt-packet';
import { isHubError } from '../../domain/errors.js';
import { reportedPatchOf, twinFailure } from '../twin-answers.js';
import type { TwinTarget } from '../../domain/twin.js';
import type { MqttConnection } from './mqtt-connection.js';
import { parseTwinRequest, twinResponseTopic } from './twin-topics.js';
import { payloadOf } from './publish-payload.js';

/**
 * A device's twin GET or reported-property PATCH. The answer goes to `$iothub/twin/res/{status}/?$rid=…` at QoS 0:
 * 200 with `{"desired":…,"reported":…}` for a GET, 204 with the new reported `$version` for a PATCH, or the error
 * status with `{"errorCode":…,"message":…}` (the Node SDK reads the code from the body, not the topic). Answers
 * go out only to a connection subscribed to `$iothub/twin/res/#`, as IoT Hub does.
 */
export function handleTwinRequest(connection: MqttConnection, packet: IPublishPacket): void {
  const request = parseTwinRequest(packet.topic);
  if (!request) return connection.close('protocol-error', 'a PUBLISH to a twin topic this hub does not serve', { topic: packet.topic.slice(0, 200) });
  const identity = connection.identity!;
  const target: TwinTarget = identity.moduleId === undefined ? { deviceId: identity.deviceId } : { deviceId: identity.deviceId, moduleId: identity.moduleId };
  const twins = connection.ctx.hub.twins;
  const answer = (status: number, body: unknown, version?: number) => {
    if (!connection.session?.has('twinResponses')) {
      connection.log.debug({ rid: request.rid }, 'a twin answer for a connection not subscribed to $iothub/twin/res/#');
      return;
    }
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    connection.write({ cmd: 'publish', topic: twinResponseTopic(status, request.rid, version), payload, qos: 0, dup: false, retain: false });
  };
  // [MQTT-4.6.0-2]: PUBACKs keep the order of the PUBLISHes, telemetry in flight included.
  if (packet.qos === 1) connection.inflight.acknowledgeInTurn(packet.messageId);
  const payload = payloadOf(packet);
  const done =
    request.operation === 'get'
      ? twins.deviceTwin(target).then((twin) => answer(200, twin))
      : Promise.resolve(payload).then((bytes) => twins.updateReported(target, reportedPatchOf(bytes))).then((version) => answer(204, undefined, version));
  done.catch((err: unknown) => {
    if (!isHubError(err)) connection.log.error({ err, rid: request.rid }, 'a twin request failed in the hub');
    const { status, body } = twinFailure(err);
    answer(status, body);
  });
}
