import { isHubError } from '../../domain/errors.js';

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3. */
export const CONNACK = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** MQTT 5 reason code 0x84, sent in an MQTT 5 CONNACK to clients this hub cannot serve with MQTT 5 yet. */
export const MQTT5_UNSUPPORTED_PROTOCOL_VERSION = 0x84;

/** Thrown by a connect step: the CONNACK code to answer with, and why (for the log, never sent to the client). */
export class ConnectRefusal extends Error {
  override name = 'ConnectRefusal';
  constructor(
    readonly returnCode: number,
    reason: string,
    /** The MQTT version whose CONNACK form to use. */
    readonly protocolVersion: 4 | 5 = 4,
  ) {
    super(reason);
  }
}

/**
 * IoT Hub answers 5 (not authorized) for bad or expired tokens and for unknown or disabled identities, which is
 * what every client-side HubError here means; throttling and failures of the hub itself are 3 (server
 * unavailable), which the SDKs retry.
 */
export function refusalFor(err: unknown): ConnectRefusal {
  if (err instanceof ConnectRefusal) return err;
  if (isHubError(err) && err.status < 500 && err.status !== 429) return new ConnectRefusal(CONNACK.notAuthorized, err.message);
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectRefusal(CONNACK.serverUnavailable, `the hub could not complete the CONNECT: ${message}`);
}
