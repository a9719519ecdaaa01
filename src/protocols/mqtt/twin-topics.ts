/** A device's twin request, from its topic: `$iothub/twin/GET/?$rid=…` or `$iothub/twin/PATCH/properties/reported/?$rid=…`. */
export interface TwinRequest {
  operation: 'get' | 'patch-reported';
  /** Echoed verbatim in the response; the SDKs use it to match the answer to the request. */
  rid: string;
}

const REQUEST = /^\$iothub\/twin\/(GET|PATCH\/properties\/reported)\/(?:\?(.*))?$/s;

export const TWIN_TOPIC_PREFIX = '$iothub/twin/';

/** Undefined for any other topic under `$iothub/twin/`, or a request without `$rid`. */
export function parseTwinRequest(topic: string): TwinRequest | undefined {
  const match = REQUEST.exec(topic);
  if (!match) return undefined;
  // Kept as it appears in the topic, not decoded: decoding and re-encoding would change ids like `x%2fy` or `a%20b`.
  const rid = (match[2] ?? '').split('&').find((p) => p.startsWith('$rid='))?.slice('$rid='.length);
  if (rid === undefined || rid === '') return undefined;
  return { operation: match[1] === 'GET' ? 'get' : 'patch-reported', rid };
}

/** `$iothub/twin/res/{status}/?$rid={rid}[&$version={version}]`; the rid as the device sent it. */
export function twinResponseTopic(status: number, rid: string, version?: number): string {
  // Wildcards and NUL may not appear in a topic name; a device that sent them gets them encoded.
  const query = `$rid=${rid.replace(/[+#\u0000]/g, encodeURIComponent)}${version === undefined ? '' : `&$version=${version}`}`;
  return `$iothub/twin/res/${status}/?${query}`;
}

export function desiredPatchTopic(version: number): string {
  return `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
}
