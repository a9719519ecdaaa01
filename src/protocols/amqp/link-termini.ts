import type { AmqpError, link as Link, Source, TerminusOptions } from 'rhea';
import { localAttach } from './rhea-internals.js';

interface RemoteTerminus {
  described(): unknown;
}

function reencoded(terminus: unknown): unknown {
  // The remote terminus keeps its typed fields: re-encoding them keeps e.g. a described selector filter intact.
  return terminus && typeof (terminus as RemoteTerminus).described === 'function' ? (terminus as RemoteTerminus).described() : null;
}

/**
 * Echoes the client's source and target in our attach. rhea replies with neither by default, and a null terminus
 * in the reply means "refused" to strict clients (AMQP 1.0 §2.6.3).
 */
export function echoTermini(link: Link): void {
  const attach = localAttach(link);
  attach.source = reencoded(link.source);
  attach.target = reencoded(link.target);
  // Our own end must not be null on an accepted link, even when the client left it out.
  if (link.is_receiver() && attach.target === null) link.set_target({} as TerminusOptions);
  if (link.is_sender() && attach.source === null) link.set_source({} as Source);
}

/** Refuses a link being attached: our terminus null in the reply attach, then a detach carrying the error. */
export function refuseLink(link: Link, error: AmqpError): void {
  const attach = localAttach(link);
  if (link.is_receiver()) {
    attach.source = reencoded(link.source);
    attach.target = null;
  } else {
    attach.source = null;
    attach.target = reencoded(link.target);
  }
  link.close(error);
}
