import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';

export interface WebSocketHandlers {
  /** MQTT over WebSocket (subprotocol `mqtt`): the adapter gets a byte stream. */
  mqtt?: (stream: Duplex) => void;
  /** AMQP over WebSocket (subprotocol `AMQPWSB10`): rhea takes the WebSocket itself. */
  amqp?: (ws: WebSocket) => void;
}

const PATHS = new Set(['/$iothub/websocket', '/$servicebus/websocket']);

/**
 * Upgrades on `/$iothub/websocket` and `/$servicebus/websocket` (query ignored: some SDKs add
 * `?iothub-no-client-cert=true`), dispatched by subprotocol, which SDKs spell in different cases.
 */
export function createUpgradeHandler(handlers: WebSocketHandlers, logger: Logger) {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => [...protocols].find((p) => subprotocolKind(p) !== undefined) ?? false,
  });
  return (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (request.url ?? '').split('?')[0]!;
    const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const kind = offered.map(subprotocolKind).find((k) => k !== undefined);
    const handler = kind === undefined ? undefined : handlers[kind];
    if (!PATHS.has(path) || !handler) {
      logger.info({ path, offered }, 'refusing a WebSocket upgrade: unknown path or subprotocol');
      socket.end(`HTTP/1.1 ${PATHS.has(path) ? 400 : 404} Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (kind === 'mqtt') handlers.mqtt!(createWebSocketStream(ws));
      else handlers.amqp!(ws);
    });
  };
}

function subprotocolKind(protocol: string): 'mqtt' | 'amqp' | undefined {
  const p = protocol.toLowerCase();
  if (p === 'mqtt') return 'mqtt';
  if (p === 'amqpwsb10') return 'amqp';
  return undefined;
}
