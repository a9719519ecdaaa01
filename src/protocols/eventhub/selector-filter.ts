import type { Source } from 'rhea';
import type { StartPosition } from '../../ports/telemetry-log.js';

/** The filter-set key and descriptor Event Hubs clients use for their start position (AMQP filters draft). */
export const SELECTOR_FILTER_KEY = 'apache.org:selector-filter:string';
export const SELECTOR_FILTER_DESCRIPTOR = 0x0000468c00000004;

export class SelectorFilterError extends Error {
  override name = 'SelectorFilterError';
}

// `amqp.annotation.x-opt-offset > '-1'`, with the value in single or double quotes or bare, any spacing.
const EXPRESSION = /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*(?:'([^']*)'|"([^"]*)"|([^\s'"]+))\s*$/i;
const INTEGER = /^-?\d+$/;

/**
 * The start position a selector filter asks for. No filter starts at the earliest retained event, as Event Hubs
 * does; the SDKs always send one (`x-opt-offset > '@latest'` is their default). Offsets `-1` and `@latest` mean
 * earliest and latest whatever the operator. Throws SelectorFilterError for anything else that is not an offset,
 * sequence number or enqueued time (ms since the epoch) compared with `>` or `>=`.
 */
export function parseSelectorFilter(expression: string | undefined): StartPosition {
  if (expression === undefined) return { kind: 'earliest' };
  const match = EXPRESSION.exec(expression);
  if (!match) {
    throw new SelectorFilterError(
      `unsupported selector filter "${expression}": expected amqp.annotation.x-opt-offset, x-opt-sequence-number or x-opt-enqueued-time, then > or >=, then a value`,
    );
  }
  const annotation = match[1]!.toLowerCase();
  const inclusive = match[2] === '>=';
  const value = (match[3] ?? match[4] ?? match[5])!.trim();
  switch (annotation) {
    case 'x-opt-offset':
      if (value === '-1') return { kind: 'earliest' };
      if (value.toLowerCase() === '@latest') return { kind: 'latest' };
      if (!/^\d+$/.test(value)) throw new SelectorFilterError(`"${value}" is not an offset this hub issued`);
      return { kind: 'offset', value, inclusive };
    case 'x-opt-sequence-number':
      return { kind: 'sequenceNumber', value: integer(value, 'sequence number'), inclusive };
    default:
      return { kind: 'enqueuedTime', value: integer(value, 'enqueued time (milliseconds since the Unix epoch)'), inclusive };
  }
}

function integer(text: string, what: string): number {
  const n = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(n)) throw new SelectorFilterError(`"${text}" is not a valid ${what}`);
  return n;
}

/**
 * The selector filter expression on a receiver's source, if any. rhea hands the described value over unwrapped;
 * a still-described value is accepted too. Throws SelectorFilterError when the filter is not a string.
 */
export function selectorFilterOf(source: Source | undefined): string | undefined {
  const filters = source?.filter as Record<string, unknown> | undefined;
  if (!filters || typeof filters !== 'object') return undefined;
  for (const [key, raw] of Object.entries(filters)) {
    if (key.toLowerCase() !== SELECTOR_FILTER_KEY) continue;
    const value = typeof raw === 'object' && raw !== null && 'value' in raw ? (raw as { value: unknown }).value : raw;
    if (typeof value !== 'string') throw new SelectorFilterError(`the ${SELECTOR_FILTER_KEY} filter must be a string`);
    return value;
  }
  return undefined;
}
