import type { Duplex } from 'node:stream';
import type { Connection, ConnectionOptions, Container, link as Link } from 'rhea';

/**
 * The few rhea internals a server needs that its typings leave out, in one place so an upgrade has one file to
 * check. Verified against rhea 3.0.5 (lib/connection.js, lib/link.js, lib/sasl.js).
 */

/** `Connection.accept(socket)`: serve an accepted socket (rhea's own `listen` does exactly this). */
export function acceptConnection(container: Container, socket: Duplex, options: object): Connection {
  const connection = container.create_connection(options as ConnectionOptions) as Connection & { accept(socket: Duplex): Connection };
  return connection.accept(socket);
}

/** Our half of a link's attach, which rhea writes on the next tick: still editable inside an open handler. */
export interface LocalAttach {
  source: unknown;
  target: unknown;
  max_message_size?: number;
}

export function localAttach(link: Link): LocalAttach {
  return (link as unknown as { local: { attach: LocalAttach } }).local.attach;
}

/** The SASL mechanism object the client chose, or undefined when it skipped SASL (protocol id 0). */
export function saslMechanismOf(connection: Connection): unknown {
  const transport = connection.sasl_transport as { selected?: { mechanism?: unknown } } | undefined;
  return transport?.selected?.mechanism;
}

/** The message format of a delivery that rhea handed over undecoded (anything but format 0). */
export function messageFormatOf(context: { format?: unknown }): number {
  return typeof context.format === 'number' ? context.format : 0;
}

/**
 * Tells rhea its socket is gone. rhea learns that only from 'end' or 'error'; a socket destroyed locally (the
 * listener closing) emits just 'close', and rhea's idle timer (twice our idle time-out) would keep running.
 */
export function socketClosed(connection: Connection): void {
  (connection as Connection & { eof(): void }).eof();
}
