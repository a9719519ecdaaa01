import type { FastifyInstance } from 'fastify';
import type { Hub } from '../../core/hub.js';
import { servicePermission } from './service-auth.js';

type TargetParams = { id: string; moduleId?: string };

/**
 * Direct method invocation on the service API, `POST /twins/{id}/methods` (and the module form): 200 with the
 * device's status and payload, whatever status the device chose. The payload is the device's JSON as it sent it.
 */
export function methodRoutes(hub: Hub) {
  return async (app: FastifyInstance): Promise<void> => {
    const connect = { preHandler: servicePermission(hub, 'ServiceConnect') };
    for (const path of ['/twins/:id/methods', '/twins/:id/modules/:moduleId/methods']) {
      app.post<{ Params: TargetParams }>(path, connect, async (request, reply) => {
        const { id, moduleId } = request.params;
        const result = await hub.methods.invoke(moduleId === undefined ? { deviceId: id } : { deviceId: id, moduleId }, request.body);
        return reply
          .header('content-type', 'application/json; charset=utf-8')
          .send(`{"status":${result.status},"payload":${result.payloadJson}}`);
      });
    }
  };
}
