import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ConsumerGroupService } from '../../core/eventhub/consumer-group-service.js';
import type { Hub } from '../../core/hub.js';
import { servicePermission } from './service-auth.js';

type NameParams = { name: string };

/**
 * Consumer groups of the Event Hub-compatible endpoint, on a Lazuli path (Azure manages them through its resource
 * API, which a self-hosted hub does not have). Reading needs ServiceConnect, as reading events does; creating and
 * deleting need RegistryWrite. PUT is idempotent: 201 when it created the group, 200 when it already existed.
 */
export function consumerGroupRoutes(hub: Hub & { consumerGroups: ConsumerGroupService }) {
  return async (app: FastifyInstance): Promise<void> => {
    const read = { preHandler: servicePermission(hub, 'ServiceConnect') };
    const write = { preHandler: servicePermission(hub, 'RegistryWrite') };
    const groups = hub.consumerGroups;

    app.get('/lazuli/consumerGroups', read, async (_request, reply) => json(reply, await groups.list()));

    app.get<{ Params: NameParams }>('/lazuli/consumerGroups/:name', read, async (request, reply) => json(reply, await groups.get(request.params.name)));

    app.put<{ Params: NameParams }>('/lazuli/consumerGroups/:name', write, async (request, reply) => {
      const { group, created } = await groups.create(request.params.name);
      return json(reply.code(created ? 201 : 200), group);
    });

    app.delete<{ Params: NameParams }>('/lazuli/consumerGroups/:name', write, async (request, reply) => {
      await groups.delete(request.params.name);
      return reply.code(204).send();
    });
  };
}

function json(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.header('content-type', 'application/json; charset=utf-8').send(body);
}
