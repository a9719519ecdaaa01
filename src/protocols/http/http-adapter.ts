import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Hub } from '../../core/hub.js';
import { HubError } from '../../domain/errors.js';
import { httpErrorHandler, sendHubError } from './http-errors.js';
import { c2dServiceRoutes } from './c2d-service-routes.js';
import { consumerGroupRoutes } from './consumer-group-routes.js';
import { deviceC2dRoutes } from './device-c2d-routes.js';
import { deviceTelemetryRoutes } from './device-telemetry-routes.js';
import { methodRoutes } from './method-routes.js';
import { registryRoutes } from './registry-routes.js';
import { twinRoutes } from './twin-routes.js';
import { createUpgradeHandler, type WebSocketHandlers } from './websocket-upgrade.js';

export interface HttpAdapterOptions {
  hub: Hub;
  logger: Logger;
  /** Largest request body accepted on the service API. */
  maxBodyBytes?: number;
  webSockets?: WebSocketHandlers;
}

export interface HttpAdapter {
  /** Serves HTTP on a socket the listener has already accepted (TLS done, first bytes sniffed). */
  handle(socket: Duplex): void;
  /** For in-process tests and tools: Fastify's request injection. */
  readonly app: FastifyInstance<Server, IncomingMessage, ServerResponse>;
  close(): Promise<void>;
}

/**
 * The HTTPS surface: health, the service REST API and (later) the device API and WebSocket upgrades. Fastify never
 * listens itself; the listener hands it sockets after sniffing, so one port can serve every protocol.
 */
export async function createHttpAdapter(options: HttpAdapterOptions): Promise<HttpAdapter> {
  let server: Server | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit: options.maxBodyBytes ?? 256 * 1024,
    routerOptions: { maxParamLength: 1024, ignoreTrailingSlash: true },
    return503OnClosing: true,
    serverFactory: (handler) => {
      server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000 }, handler as (req: IncomingMessage, res: ServerResponse) => void);
      // The SDKs keep connections alive between calls and never retry a request the server raced to close, so idle
      // connections are kept well beyond Node's 5 s default.
      server.keepAliveTimeout = 120_000;
      return server;
    },
  });

  // Empty JSON bodies (DELETE with a JSON content type) are no body, not an error.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers(); // the service API takes JSON only; anything else is 415
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    parseJson(request, body as string, done);
  });

  app.setErrorHandler(httpErrorHandler(options.logger));
  app.setNotFoundHandler((request, reply) => {
    options.logger.info({ method: request.method, url: request.url }, 'no such endpoint');
    return sendHubError(reply, new HubError('NotFound', `No endpoint ${request.method} ${request.url.split('?')[0]}`));
  });

  app.get('/health', async (_request, reply) => reply.header('content-type', 'application/json; charset=utf-8').send({ status: 'ok', hub: options.hub.info.name }));
  await app.register(registryRoutes(options.hub));
  await app.register(consumerGroupRoutes(options.hub));
  await app.register(deviceTelemetryRoutes(options.hub));
  await app.register(deviceC2dRoutes(options.hub));
  await app.register(c2dServiceRoutes(options.hub));
  await app.register(methodRoutes(options.hub));
  await app.register(twinRoutes(options.hub));
  await app.ready();

  const httpServer = server!;
  httpServer.on('upgrade', createUpgradeHandler(options.webSockets ?? {}, options.logger));
  return {
    app,
    handle(socket) {
      httpServer.emit('connection', socket);
    },
    async close() {
      httpServer.closeAllConnections();
      await app.close();
    },
  };
}
