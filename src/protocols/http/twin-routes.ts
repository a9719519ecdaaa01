import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../../core/hub.js';
import type { TwinView } from '../../core/twins/twin-view.js';
import type { TwinTarget } from '../../domain/twin.js';
import { servicePermission } from './service-auth.js';

type Params = { id: string; moduleId?: string };

/** The service twin API: `GET`, `PATCH` and `PUT` of `/twins/{id}` and `/twins/{id}/modules/{moduleId}`, and `POST /devices/query`. */
export function twinRoutes(hub: Hub) {
  return async (app: FastifyInstance): Promise<void> => {
    const options = { preHandler: servicePermission(hub, 'ServiceConnect') };
    const twins = hub.twins;
    app.post('/devices/query', { preHandler: servicePermission(hub, 'RegistryRead') }, async (request, reply) => {
      const body = request.body as { query?: unknown } | undefined;
      const pageSize = request.headers['x-ms-max-item-count'];
      const continuation = request.headers['x-ms-continuation'];
      const page = await hub.twinQueries.query(
        body?.query,
        pageSize === undefined ? undefined : Number(pageSize),
        typeof continuation === 'string' && continuation !== '' ? continuation : undefined,
      );
      // The Node SDK reads "more results" from the header's presence: it is sent only when more follow.
      if (page.continuation) reply.header('x-ms-continuation', page.continuation);
      return reply.header('x-ms-item-type', page.kind).header('content-type', 'application/json; charset=utf-8').send(page.items);
    });
    for (const path of ['/twins/:id', '/twins/:id/modules/:moduleId']) {
      app.get<{ Params: Params }>(path, options, async (request, reply) => send(reply, await twins.get(targetOf(request))));
      app.patch<{ Params: Params }>(path, options, async (request, reply) =>
        send(reply, await twins.patch(targetOf(request), request.body, ifMatchOf(request))),
      );
      app.put<{ Params: Params }>(path, options, async (request, reply) =>
        send(reply, await twins.replace(targetOf(request), request.body, ifMatchOf(request))),
      );
    }
  };
}

function targetOf(request: FastifyRequest<{ Params: Params }>): TwinTarget {
  const { id, moduleId } = request.params;
  return moduleId === undefined ? { deviceId: id } : { deviceId: id, moduleId };
}

function ifMatchOf(request: FastifyRequest): string | undefined {
  const value = request.headers['if-match'];
  return Array.isArray(value) ? value[0] : value;
}

function send(reply: FastifyReply, twin: TwinView) {
  return reply.header('etag', `"${twin.etag}"`).header('content-type', 'application/json; charset=utf-8').send(twin);
}
