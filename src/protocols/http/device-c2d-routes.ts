import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../../core/hub.js';
import { ACK_PROPERTY, type C2dMessage, type C2dTarget } from '../../domain/c2d.js';

type TargetParams = { id: string; moduleId?: string };
type LockParams = TargetParams & { lockToken: string };

/** Settlement requests carry no meaningful body; whatever one comes with is read and dropped. */
const SETTLE_BODY_LIMIT = 64 * 1024;

/**
 * The device HTTPS API for cloud-to-device messages (device and module forms): `GET .../messages/devicebound`
 * locks and returns the next message (204 when none waits), `DELETE .../devicebound/{lockToken}` completes it
 * (rejects it with `?reject`), `POST .../devicebound/{lockToken}/abandon` offers it again. The path token is what
 * counts; If-Match merely repeats it. A token the identity does not hold is 412 DeviceMessageLockLost.
 */
export function deviceC2dRoutes(hub: Hub) {
  return async (app: FastifyInstance): Promise<void> => {
    // The abandon POST has an empty body with any content type (or none); the service API's JSON-only parsers
    // would refuse some of them.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: SETTLE_BODY_LIMIT }, (_request, body, done) => done(null, body));

    const authenticate = async (request: FastifyRequest<{ Params: TargetParams }>): Promise<C2dTarget> => {
      const { id, moduleId } = request.params;
      const identity = await hub.devices.authenticate(request.headers.authorization, id, moduleId);
      return identity.moduleId === undefined ? { deviceId: identity.deviceId } : { deviceId: identity.deviceId, moduleId: identity.moduleId };
    };

    // Node's SDK says `devicebound`, C# and the CLI `deviceBound`; routes are case-sensitive.
    for (const bound of ['devicebound', 'deviceBound']) {
      for (const base of [`/devices/:id/messages/${bound}`, `/devices/:id/modules/:moduleId/messages/${bound}`]) {
        app.get<{ Params: TargetParams }>(base, async (request, reply) => {
          const message = await hub.c2d.receive(await authenticate(request));
          if (!message) return reply.code(204).send();
          return sendMessage(reply, message);
        });

        app.delete<{ Params: LockParams; Querystring: { reject?: string } }>(`${base}/:lockToken`, async (request, reply) => {
          const target = await authenticate(request);
          // `?reject` comes valueless from the SDKs and `reject=<anything>` from the CLI: its presence decides.
          if (request.query.reject !== undefined) await hub.c2d.reject(target, request.params.lockToken);
          else await hub.c2d.complete(target, request.params.lockToken);
          return reply.code(204).send();
        });

        app.post<{ Params: LockParams }>(`${base}/:lockToken/abandon`, async (request, reply) => {
          await hub.c2d.abandon(await authenticate(request), request.params.lockToken);
          return reply.code(204).send();
        });
      }
    }
  };
}

function sendMessage(reply: FastifyReply, message: C2dMessage): FastifyReply {
  const p = message.content.properties;
  const system: Array<[string, string | undefined]> = [
    // The Node SDK takes the lock token as the ETag minus its first and last characters.
    ['etag', `"${message.lockToken}"`],
    ['iothub-messageid', p.messageId ?? ''],
    ['iothub-sequencenumber', String(message.sequenceNumber)],
    ['iothub-to', p.to ?? ''],
    // Only the expiry the sender chose; the hub's default time to live is not the message's.
    ['iothub-expiry', p.absoluteExpiryTime === undefined ? '' : new Date(p.absoluteExpiryTime).toISOString()],
    ['iothub-enqueuedtime', dotNetInvariantTime(new Date(message.enqueuedTime))],
    // Deliveries before this one, as Azure counts on HTTPS.
    ['iothub-deliverycount', String(message.deliveryCount - 1)],
    ['iothub-ack', message.ack],
    ['iothub-correlationid', p.correlationId ?? ''],
    ['iothub-userid', p.userId ?? ''],
    ['content-type', p.contentType],
    ['iothub-contenttype', p.contentType],
    ['content-encoding', p.contentEncoding],
    ['iothub-contentencoding', p.contentEncoding],
  ];
  for (const [name, value] of system) if (value !== undefined && isHttpHeader(name, value)) reply.header(name, value);
  for (const [name, value] of Object.entries(message.content.applicationProperties)) {
    if (name === ACK_PROPERTY) continue;
    const header = `iothub-app-${name}`;
    const text = value === null ? '' : String(value);
    // Fastify lower-cases the names it is given; the raw response keeps the sender's case, which C# devices read.
    if (isHttpHeader(header, text)) reply.raw.setHeader(header, text);
  }
  return reply.code(200).send(message.content.body);
}

/**
 * A property HTTP cannot carry (a name that is no token, a control character or one beyond Latin-1) is left out:
 * failing the response would leave the message locked and failing on every delivery.
 */
function isHttpHeader(name: string, value: string): boolean {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

/** .NET's invariant `M/d/yyyy h:mm:ss tt` in UTC, e.g. `12/22/2017 12:14:12 AM`, as the hub writes enqueued times. */
export function dotNetInvariantTime(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const hours = d.getUTCHours();
  const clock = `${hours % 12 === 0 ? 12 : hours % 12}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${hours < 12 ? 'AM' : 'PM'}`;
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${clock}`;
}
