import type { FastifyRequest } from 'fastify';
import { HubError } from '../../domain/errors.js';
import type { Permission } from '../../domain/permissions.js';
import type { Principal } from '../../domain/principal.js';
import type { Hub } from '../../core/hub.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** A preHandler that authenticates the request's SAS token and requires a service permission. */
export function servicePermission(hub: Hub, permission: Permission) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (header && /^bearer\s/i.test(header)) {
      throw new HubError('IotHubUnauthorizedAccess', 'Microsoft Entra (Bearer) tokens are not supported; use a SharedAccessSignature');
    }
    const principal = await hub.auth.authenticate(header);
    hub.auth.requirePermission(principal, permission);
    request.principal = principal;
  };
}
