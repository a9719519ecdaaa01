import type { FastifyInstance } from 'fastify';
import type { Hub } from '../../core/hub.js';
import { servicePermission } from './service-auth.js';

type TargetParams = { id: string; moduleId?: string };

/** Cloud-to-device queue management on the service API: purge, `DELETE /devices/{id}/commands` (and the module form). */
export function c2dServiceRoutes(hub: Hub) {
  return async (app: FastifyInstance): Promise<void> => {
    const connect = { preHandler: servicePermission(hub, 'ServiceConnect') };
    for (const path of ['/devices/:id/commands', '/devices/:id/modules/:moduleId/commands']) {
      app.delete<{ Params: TargetParams }>(path, connect, async (request, reply) => {
        const { id, moduleId } = request.params;
        const purged = await hub.c2d.purge(moduleId === undefined ? { deviceId: id } : { deviceId: id, moduleId });
        return reply
          .header('content-type', 'application/json; charset=utf-8')
          .send({ totalMessagesPurged: purged, deviceId: id, moduleId: moduleId ?? null });
      });
    }
  };
}
