/** Who a CONNECT says it is: the ids from its client id, checked against its username. */
export interface ClaimedIdentity {
  deviceId: string;
  moduleId?: string;
  /** The Plug and Play model id from the username's `model-id` parameter. */
  modelId?: string;
}

export class ConnectIdentityError extends Error {
  override name = 'ConnectIdentityError';
}

/** The client id is `{deviceId}` or `{deviceId}/{moduleId}`, raw (not percent-encoded). */
export function parseClientId(clientId: string): Pick<ClaimedIdentity, 'deviceId' | 'moduleId'> {
  const parts = clientId.split('/');
  if (parts.some((p) => p === '') || parts.length > 2) {
    throw new ConnectIdentityError(`client id "${clientId}" is neither {deviceId} nor {deviceId}/{moduleId}`);
  }
  return parts.length === 1 ? { deviceId: parts[0]! } : { deviceId: parts[0]!, moduleId: parts[1]! };
}

/**
 * Checks a CONNECT username against the client id's ids and returns the host and the model id. Forms in use
 * (IoT Hub docs and Microsoft SDKs):
 *   {host}/{deviceId}/?api-version=...&DeviceClientType=...   (current; `&model-id=...` may be added)
 *   {host}/{deviceId}/{moduleId}/?api-version=...
 *   {host}/{deviceId}/api-version=2016-11-14&DeviceClientType=...   (old, no `?`)
 *   {host}/{deviceId}   and   {host}/{deviceId}/
 * Ids appear raw, as in the client id. Parameter values are percent-decoded when they decode.
 */
export function parseUsername(username: string, ids: Pick<ClaimedIdentity, 'deviceId' | 'moduleId'>): { host: string; modelId?: string } {
  const expected = ids.moduleId === undefined ? [ids.deviceId] : [ids.deviceId, ids.moduleId];
  const segments = username.split('/');
  const host = segments[0]!;
  if (host === '') throw new ConnectIdentityError('the username has no host name');
  const named = segments.slice(1, 1 + expected.length);
  if (named.length !== expected.length || named.some((segment, i) => segment !== expected[i])) {
    throw new ConnectIdentityError(`the username names "${named.join('/')}", the client id "${expected.join('/')}"`);
  }
  const rest = segments.slice(1 + expected.length).join('/');
  const query = rest.startsWith('?') ? rest.slice(1) : rest.startsWith('api-version=') && !rest.includes('/') ? rest : undefined;
  if (rest !== '' && query === undefined) throw new ConnectIdentityError(`the username has "${rest}" after the ids`);
  const modelId = query === undefined ? undefined : parameters(query).get('model-id');
  return modelId ? { host, modelId } : { host };
}

/** `key=value&...`; the Node SDK does not percent-encode `model-id`, others may, so decode when it decodes. */
function parameters(query: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0) result.set(lenientDecode(pair.slice(0, eq)), lenientDecode(pair.slice(eq + 1)));
  }
  return result;
}

function lenientDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The username's host must be the hub's name, compared case-insensitively, with or without a `:port`. */
export function isHubHost(host: string, hubHostname: string): boolean {
  return host.toLowerCase().replace(/:\d+$/, '') === hubHostname.toLowerCase();
}
