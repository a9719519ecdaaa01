import type { Hub } from '../../core/hub.js';
import { HubError } from '../../domain/errors.js';
import { parseSasToken, SasFormatError, type SasToken } from '../../domain/sas.js';
import { normaliseAudience, type Claim } from './claims.js';

const EVENT_HUB_AUDIENCE = /^(?:sb|amqps?):\/\//i;

/**
 * Verifies a SAS token presented for `name` (a `$cbs` put-token) or on its own (a SASL PLAIN password). IoT Hub
 * audiences go to `hub.auth.authenticate`, `sb://` ones to `authenticateEventHub`; a device or module token must
 * also name an identity that exists and is enabled, as IoT Hub answers 401 to a disabled device's put-token.
 * Throws HubError.
 */
export async function verifyClaim(hub: Hub, token: string, name?: string): Promise<Claim> {
  let sas: SasToken;
  try {
    sas = parseSasToken(token);
  } catch (err) {
    if (err instanceof SasFormatError) throw new HubError('IotHubUnauthorizedAccess', `Malformed SharedAccessSignature: ${err.message}`);
    throw err;
  }
  // `sas.resource` is decoded already; decoding it again would corrupt ids that contain '%'.
  const tokenAudience = sas.resource.trim().toLowerCase().replace(/\/+$/, '');
  const audience = name === undefined ? tokenAudience : normaliseAudience(name);
  if (audience !== tokenAudience && !audience.startsWith(`${tokenAudience}/`)) {
    throw new HubError('IotHubUnauthorizedAccess', `The token is for "${sas.resource}", not for "${name}"`);
  }
  const principal = EVENT_HUB_AUDIENCE.test(sas.resource) ? await hub.auth.authenticateEventHub(token) : await hub.auth.authenticate(token);
  if (principal.kind !== 'policy') {
    await hub.devices.authenticate(token, principal.deviceId, principal.kind === 'module' ? principal.moduleId : undefined);
  }
  return { audience, token, principal, expiresAt: sas.expiry * 1000 };
}
