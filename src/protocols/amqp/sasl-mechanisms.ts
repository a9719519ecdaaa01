import type { Logger } from 'pino';
import type { Connection, Container } from 'rhea';
import type { Claim } from './claims.js';
import { saslMechanismOf } from './rhea-internals.js';

/** What rhea's SASL server asks of a mechanism object (lib/sasl.js): `start`, then `outcome` and `username`. */
interface ServerMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  start(response: Buffer | undefined, hostname?: string): Promise<void> | void;
}

interface ServerMechanisms {
  enable_anonymous(): void;
  [name: string]: unknown;
}

/**
 * PLAIN as legacy clients use it: user `{device}@sas.{hub}` or `{policy}@sas.root.{hub}`, password a SAS token.
 * The token is verified here, so a bad one fails SASL, and kept for link authorisation like a `$cbs` claim.
 */
class PlainMechanism implements ServerMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  claim: Claim | undefined;

  constructor(
    private readonly verify: (token: string) => Promise<Claim>,
    private readonly logger: Logger,
  ) {}

  async start(response: Buffer | undefined): Promise<void> {
    // authzid NUL authcid NUL passwd (RFC 4616)
    const [, username = '', password = ''] = (response ?? Buffer.alloc(0)).toString('utf8').split('\0');
    try {
      this.claim = await this.verify(password);
      this.username = username;
      this.outcome = true;
    } catch (err) {
      this.logger.info({ username, err: (err as Error).message }, 'AMQP SASL PLAIN refused');
      this.outcome = false;
    }
  }
}

/** The C SDK's mechanism: it only announces that authorisation follows on `$cbs`. */
class CbsMechanism implements ServerMechanism {
  outcome: boolean | undefined;
  username: string | undefined;

  start(): void {
    this.username = 'cbs';
    this.outcome = true;
  }
}

/**
 * One listener for every client: no SASL (Node IoT SDKs), ANONYMOUS (@azure/event-hubs), PLAIN and MSSBCBS. With
 * ANONYMOUS enabled and `require_sasl` unset rhea accepts a bare AMQP header as well as a SASL one. SASL never grants
 * rights by itself: links are authorised by claims.
 */
export function installSaslMechanisms(container: Container, verify: (token: string) => Promise<Claim>, logger: Logger): void {
  const mechanisms = container.sasl_server_mechanisms as ServerMechanisms;
  mechanisms.enable_anonymous();
  mechanisms['PLAIN'] = () => new PlainMechanism(verify, logger);
  mechanisms['MSSBCBS'] = () => new CbsMechanism();
}

/** The claim a client proved with its SASL PLAIN password, if it used PLAIN. */
export function plainClaimOf(connection: Connection): Claim | undefined {
  const mechanism = saslMechanismOf(connection);
  return mechanism instanceof PlainMechanism ? mechanism.claim : undefined;
}

/** The SASL mechanism name for logs: none, ANONYMOUS, PLAIN or MSSBCBS. */
export function saslMechanismName(connection: Connection): string {
  const mechanism = saslMechanismOf(connection);
  if (mechanism === undefined) return 'none';
  if (mechanism instanceof PlainMechanism) return 'PLAIN';
  if (mechanism instanceof CbsMechanism) return 'MSSBCBS';
  return 'ANONYMOUS';
}
