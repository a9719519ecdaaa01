import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Hub } from '../../core/hub.js';
import { HubError } from '../../domain/errors.js';
import type { HubMessage } from '../../domain/message.js';
import { headerPairs, messageFromHeaders } from './device-message-headers.js';

const BATCH_CONTENT_TYPE = 'application/vnd.microsoft.iothub.json';

/**
 * The device HTTPS API for telemetry: `POST /devices/{id}/messages/events` (and the module form), one message
 * whose body is the raw request body, or a batch (`application/vnd.microsoft.iothub.json`). 204 only once durable.
 */
export function deviceTelemetryRoutes(hub: Hub) {
  return async (app: FastifyInstance): Promise<void> => {
    // Device bodies are bytes of any type (the Node SDK sends none at all), read up to the message size limit plus
    // room for a batch's base64 and JSON.
    app.removeAllContentTypeParsers();
    const bodyLimit = Math.ceil(hub.telemetry.maxMessageBytes * 1.5) + 64 * 1024;
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));

    const handler = async (request: FastifyRequest<{ Params: { id: string; moduleId?: string } }>) => {
      const { id, moduleId } = request.params;
      const identity = await hub.devices.authenticate(request.headers.authorization, id, moduleId);
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (String(request.headers['content-type'] ?? '').toLowerCase().startsWith(BATCH_CONTENT_TYPE)) {
        await hub.telemetry.sendBatch(identity, parseBatch(body));
      } else {
        await hub.telemetry.send(identity, messageFromHeaders(headerPairs(request.raw.rawHeaders), body));
      }
    };
    type Route = { Params: { id: string; moduleId?: string } };
    for (const path of ['/devices/:id/messages/events', '/devices/:id/modules/:moduleId/messages/events']) {
      app.post<Route>(path, { bodyLimit }, async (request, reply) => {
        await handler(request);
        return reply.code(204).send();
      });
    }
  };
}

/** `[{"body": base64, "base64Encoded"?: bool, "properties"?: {name: value}}]`, properties named as HTTP headers. */
function parseBatch(body: Buffer): HubMessage[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HubError('IotHubFormatError', `The batch is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new HubError('ArgumentInvalid', 'A batch is a non-empty JSON array of messages');
  return parsed.map((element, i) => {
    const e = element as { body?: unknown; base64Encoded?: unknown; properties?: unknown };
    if (typeof e !== 'object' || e === null || typeof e.body !== 'string') {
      throw new HubError('ArgumentInvalid', `Batch element ${i} needs a string "body"`);
    }
    const properties = e.properties ?? {};
    if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
      throw new HubError('ArgumentInvalid', `Batch element ${i}: "properties" must be an object`);
    }
    const pairs = Object.entries(properties).map(([k, v]) => [k, String(v)] as const);
    const bytes = e.base64Encoded === false ? Buffer.from(e.body, 'utf8') : Buffer.from(e.body, 'base64');
    return messageFromHeaders(pairs, bytes);
  });
}
