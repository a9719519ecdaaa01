/**
 * Whether a topic segment names an id. The Node SDK puts ids into topics raw (`devices/dev 1/...`) and the
 * Python SDK percent-encodes them (`devices/dev%201/...`); both forms are accepted. The raw comparison comes
 * first because an id may itself contain `%`.
 */
export function segmentNames(segment: string, id: string): boolean {
  if (segment === id) return true;
  try {
    return decodeURIComponent(segment) === id;
  } catch {
    return false;
  }
}
