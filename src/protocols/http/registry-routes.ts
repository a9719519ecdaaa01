import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Hub } from '../../core/hub.js';
import { HubError } from '../../domain/errors.js';
import { servicePermission } from './service-auth.js';

type IdParams = { id: string };
type ModuleParams = { id: string; moduleId: string };

/** Azure's identity registry data-plane API: devices, modules, bulk operations and statistics. */
export function registryRoutes(hub: Hub) {
  return async (app: FastifyInstance): Promise<void> => {
    const read = { preHandler: servicePermission(hub, 'RegistryRead') };
    const write = { preHandler: servicePermission(hub, 'RegistryWrite') };
    const registry = hub.registry;

    app.get<{ Querystring: { top?: string } }>('/devices', read, async (request, reply) => {
      const top = request.query.top === undefined ? undefined : parseTop(request.query.top);
      const continuation = header(request.headers['x-ms-continuation']);
      const page = await registry.listDevices(top, continuation);
      if (page.continuation) reply.header('x-ms-continuation', page.continuation);
      return json(reply, page.devices);
    });

    app.post('/devices', write, async (request, reply) => {
      const result = await registry.bulk(request.body);
      return json(reply.code(result.isSuccessful ? 200 : 400), result);
    });

    app.get<{ Params: IdParams }>('/devices/:id', read, async (request, reply) => {
      return withEtag(reply, await registry.getDevice(request.params.id));
    });

    app.put<{ Params: IdParams }>('/devices/:id', write, async (request, reply) => {
      const device = await registry.putDevice(request.params.id, request.body, header(request.headers['if-match']));
      return withEtag(reply, device);
    });

    app.delete<{ Params: IdParams }>('/devices/:id', write, async (request, reply) => {
      await registry.deleteDevice(request.params.id, header(request.headers['if-match']));
      return reply.code(204).send();
    });

    app.get<{ Params: IdParams }>('/devices/:id/modules', read, async (request, reply) => {
      return json(reply, await registry.listModules(request.params.id));
    });

    app.get<{ Params: ModuleParams }>('/devices/:id/modules/:moduleId', read, async (request, reply) => {
      return withEtag(reply, await registry.getModule(request.params.id, request.params.moduleId));
    });

    app.put<{ Params: ModuleParams }>('/devices/:id/modules/:moduleId', write, async (request, reply) => {
      const { id, moduleId } = request.params;
      return withEtag(reply, await registry.putModule(id, moduleId, request.body, header(request.headers['if-match'])));
    });

    app.delete<{ Params: ModuleParams }>('/devices/:id/modules/:moduleId', write, async (request, reply) => {
      await registry.deleteModule(request.params.id, request.params.moduleId, header(request.headers['if-match']));
      return reply.code(204).send();
    });

    app.get('/statistics/devices', read, async (_request, reply) => json(reply, await registry.statistics()));

    app.get('/statistics/service', { preHandler: servicePermission(hub, 'ServiceConnect') }, async (_request, reply) =>
      json(reply, { connectedDeviceCount: 0 }),
    );
  };
}

function json(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.header('content-type', 'application/json; charset=utf-8').send(body);
}

function withEtag(reply: FastifyReply, body: { etag: string }): FastifyReply {
  return json(reply.header('etag', `"${body.etag}"`), body);
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseTop(text: string): number {
  if (!/^\d{1,7}$/.test(text)) throw new HubError('ArgumentInvalid', 'top must be a whole number');
  return Number(text);
}
