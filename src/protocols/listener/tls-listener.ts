import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { sniffProtocol, type SniffedProtocol } from './sniff.js';

export type ProtocolHandler = (socket: TLSSocket) => void;

export interface ListenerOptions {
  /** Ports to listen on; duplicates are served once. 0 picks a free port. */
  ports: readonly number[];
  /** Address to bind; undefined means every IPv4 and IPv6 interface. */
  bind?: string;
  cert: string;
  key: string;
  handlers: Partial<Record<Exclude<SniffedProtocol, 'unknown'>, ProtocolHandler>>;
  logger: Logger;
  /** How long a client may take to complete the handshake and send its first byte. */
  firstByteTimeoutMs?: number;
}

export interface Listeners {
  /** Requested port -> bound port (they differ only for port 0). */
  boundPorts: Map<number, number>;
  close(): Promise<void>;
}

export class ListenError extends Error {
  override name = 'ListenError';
  constructor(
    message: string,
    readonly port: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * One TLS server per port. Every port serves every protocol: after the handshake the first byte tells MQTT, AMQP
 * and HTTP apart and the socket goes to that protocol's adapter, so a single-port deployment also works.
 */
export async function startListeners(options: ListenerOptions): Promise<Listeners> {
  const servers: Server[] = [];
  const boundPorts = new Map<number, number>();
  const sockets = new Set<TLSSocket>();
  try {
    for (const port of new Set(options.ports)) {
      const server = createTlsServer(options, sockets);
      boundPorts.set(port, await listen(server, port, options.bind));
      servers.push(server);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => closeServer(s)));
    throw err;
  }
  return {
    boundPorts,
    async close() {
      const closing = servers.map((s) => closeServer(s));
      for (const socket of sockets) socket.destroy();
      await Promise.all(closing);
    },
  };
}

function createTlsServer(options: ListenerOptions, sockets: Set<TLSSocket>): Server {
  const log = options.logger;
  const timeoutMs = options.firstByteTimeoutMs ?? 30_000;
  const server = createServer({ cert: options.cert, key: options.key, minVersion: 'TLSv1.2', handshakeTimeout: timeoutMs });
  server.on('tlsClientError', (err, socket) => {
    log.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (err) => log.debug({ err: err.message, remote: socket.remoteAddress }, 'socket error'));
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.once('close', () => clearTimeout(timer));
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      socket.unshift(chunk);
      dispatch(socket, sniffProtocol(chunk[0]!), options);
    });
  });
  return server;
}

function dispatch(socket: TLSSocket, protocol: SniffedProtocol, options: ListenerOptions): void {
  const handler = protocol === 'unknown' ? undefined : options.handlers[protocol];
  if (handler) {
    handler(socket);
    socket.resume();
    return;
  }
  options.logger.info(
    { protocol, remote: socket.remoteAddress, port: socket.localPort },
    protocol === 'unknown' ? 'closing a connection that speaks no known protocol' : `closing a ${protocol} connection: this hub does not serve ${protocol} yet`,
  );
  socket.end();
  socket.destroySoon();
}

function listen(server: Server, port: number, bind: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      // Dual-stack "::" fails where IPv6 is off; all IPv4 interfaces is then the right default.
      if (bind === undefined && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) {
        server.listen({ port, host: '0.0.0.0' });
        return;
      }
      reject(new ListenError(err.message, port, err.code));
    };
    server.on('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
    server.listen(bind === undefined ? { port, host: '::', ipv6Only: false } : { port, host: bind });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}
