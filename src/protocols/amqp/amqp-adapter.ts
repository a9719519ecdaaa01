import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import rhea from 'rhea';
import { createWebSocketStream, type WebSocket } from 'ws';
import type { Hub } from '../../core/hub.js';
import { EventHubEndpoint } from '../eventhub/event-hub-endpoint.js';
import { AmqpConnection } from './amqp-connection.js';
import { acceptConnection, socketClosed } from './rhea-internals.js';
import { installSaslMechanisms } from './sasl-mechanisms.js';
import { verifyClaim } from './verify-claim.js';
import { coalesceWrites } from '../coalesced-writes.js';

export interface AmqpAdapterOptions {
  hub: Hub;
  logger: Logger;
  /** Telemetry deliveries a link may have in flight before the hub acknowledges some. Default 500. */
  telemetryCreditWindow?: number;
  /** Links one connection may hold (a gateway holds a few per device). Default 10000. */
  maxLinksPerConnection?: number;
  /**
   * How long a connection whose last authorised link was detached (identity disabled, token expired) may take to
   * close itself before the hub closes it. Default 3000 ms.
   */
  closeGraceMs?: number;
  /** The Event Hub-compatible endpoint to delegate to; by default one is created on `hub`. */
  eventHub?: EventHubEndpoint;
}

export interface AmqpAdapter {
  /** Serves AMQP 1.0 on a TLS socket after sniffing. */
  handle(socket: Duplex): void;
  /** Serves AMQP 1.0 over an accepted WebSocket (subprotocol AMQPWSB10). */
  handleWebSocket(ws: WebSocket): void;
  close(): Promise<void>;
}

/**
 * What this server announces in its open frame: the values real Event Hubs uses. rhea heartbeats at half the
 * peer's idle time-out by itself. Receivers get no automatic credit or acceptance: links manage both.
 */
const SERVER_CONNECTION_OPTIONS = {
  max_frame_size: 65536,
  channel_max: 4999,
  idle_time_out: 240000,
  autoaccept: false,
  credit_window: 0,
  reconnect: false,
  // Small frames (dispositions, flow) must not wait for Nagle's algorithm.
  tcp_no_delay: true,
};

/**
 * AMQP 1.0 on rhea, as a server: device telemetry, `$cbs`, and the host of the Event Hub-compatible endpoint. One
 * rhea container serves every connection, from TLS sockets and WebSockets alike.
 */
export function createAmqpAdapter(options: AmqpAdapterOptions): AmqpAdapter {
  const { hub, logger } = options;
  const container = rhea.create_container({ id: `lazuli:${hub.info.name}` });
  installSaslMechanisms(container, (token) => verifyClaim(hub, token), logger);
  // A link detached with an error that no handler claims is emitted here; without a listener it would throw.
  container.on('error', (err: Error) => logger.info({ err: err.message }, 'AMQP error'));
  const eventHub = options.eventHub ?? new EventHubEndpoint({ hub, logger });
  const live = new Set<{ amqp: AmqpConnection; destroy(): void }>();
  const settings = {
    hub,
    logger,
    eventHub,
    telemetryCreditWindow: options.telemetryCreditWindow ?? 500,
    maxLinksPerConnection: options.maxLinksPerConnection ?? 10000,
    closeGraceMs: options.closeGraceMs ?? 3000,
  };

  function serve(stream: Duplex, destroy: () => void): void {
    coalesceWrites(stream);
    const connection = acceptConnection(container, stream, { ...SERVER_CONNECTION_OPTIONS });
    const entry = { amqp: new AmqpConnection(connection, settings, destroy), destroy };
    live.add(entry);
    stream.once('close', () => {
      live.delete(entry);
      entry.amqp.dispose();
      socketClosed(connection);
    });
  }

  return {
    handle(socket) {
      serve(socket, () => socket.destroy());
    },
    handleWebSocket(ws) {
      // A byte stream over the WebSocket gives rhea the same Duplex as TLS (rather than websocket_accept, which
      // does not return the connection).
      const stream = createWebSocketStream(ws);
      stream.on('error', (err) => logger.debug({ err: err.message }, 'AMQP WebSocket error'));
      serve(stream, () => ws.terminate());
    },
    async close() {
      for (const { amqp } of live) amqp.close({ condition: 'amqp:connection:forced', description: 'The hub is shutting down' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const { destroy } of live) destroy();
      live.clear();
      if (!options.eventHub) eventHub.close();
    },
  };
}
