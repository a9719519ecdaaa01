/**
 * The direct method topics (protocol doc §3.7): requests go out on `$iothub/methods/POST/{methodName}/?$rid={rid}`,
 * answers come in on `$iothub/methods/res/{status}/?$rid={rid}`. Node sends status and rid raw, Python
 * percent-encodes them; both are read.
 */

const RESPONSE_PREFIX = '$iothub/methods/res/';
const RESPONSE_TOPIC = /^\$iothub\/methods\/res\/([^/?]+)\/?\?(.*)$/s;
const STATUS = /^-?\d{1,10}$/;

export interface MethodResponseTopic {
  status: number;
  rid: string;
}

/** The method name goes in raw: Node takes segment 3 without decoding it (names are checked to need no escaping). */
export function methodRequestTopic(methodName: string, rid: string): string {
  return `$iothub/methods/POST/${methodName}/?$rid=${rid}`;
}

export function isMethodResponseTopic(topic: string): boolean {
  return topic.startsWith(RESPONSE_PREFIX);
}

/** The status and request id of an answer's topic; undefined when either is missing or unreadable. */
export function parseMethodResponseTopic(topic: string): MethodResponseTopic | undefined {
  const match = RESPONSE_TOPIC.exec(topic);
  if (!match) return undefined;
  const status = decode(match[1]!);
  if (status === undefined || !STATUS.test(status)) return undefined;
  for (const pair of match[2]!.split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || decode(pair.slice(0, eq)) !== '$rid') continue;
    const rid = decode(pair.slice(eq + 1));
    return rid ? { status: Number(status), rid } : undefined;
  }
  return undefined;
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
