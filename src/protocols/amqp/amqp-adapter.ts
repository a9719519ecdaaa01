import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Hub } from '../../core/hub.js';

export interface AmqpAdapterOptions {
  hub: Hub;
  logger: Logger;
}

export interface AmqpAdapter {
  /** Serves AMQP 1.0 on a TLS socket after sniffing. */
  handle(socket: Duplex): void;
  /** Serves AMQP 1.0 over an accepted WebSocket (subprotocol AMQPWSB10). */
  handleWebSocket(ws: WebSocket): void;
  close(): Promise<void>;
}

/** Placeholder until the AMQP adapter lands: closes the connection with a log line. */
export function createAmqpAdapter(options: AmqpAdapterOptions): AmqpAdapter {
  return {
    handle(socket) {
      options.logger.info('closing an AMQP connection: AMQP is not served yet');
      socket.destroy();
    },
    handleWebSocket(ws) {
      ws.close(1011, 'AMQP is not served yet');
    },
    async close() {},
  };
}
