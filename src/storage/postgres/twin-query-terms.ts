/**
 * The values a twin query's paths name, as SQL over one candidate row: `d` the devices row, `m` the modules row
 * (querying devices.modules), `t` the twins row. It follows core/twins/twin-view.ts field by field; what SQL cannot
 * see (connection state, etags, $metadata) is an `unknown` term, which the compiler treats as "may be anything".
 */
import { evaluate, type PathSegment } from '../../domain/query/index.js';
import { FALSE, TRUE, type SqlParams } from './sql-text.js';

export type JsonType = 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array';

export const PRIMITIVE_TYPES: readonly JsonType[] = ['string', 'number', 'boolean', 'null'];

/** What a value of the query is, as far as SQL can tell. */
export type Term =
  /** Known while compiling; `undefined` is the query language's undefined. */
  | { kind: 'const'; value: unknown }
  /**
   * A jsonb expression that is the value, SQL NULL where the value is undefined. Strings inside the *_query columns
   * are the lossy copies (what jsonb refuses is U+FFFD), so comparing strings is exact only with lossless literals.
   */
  | { kind: 'json'; sql: string; column?: ColumnPath }
  /** A value SQL cannot compute: of `type` when known; possibly defined, possibly undefined where these hold. */
  | { kind: 'unknown'; type: JsonType | undefined; mayBeDefined: string; mayBeUndefined: string }
  /** A condition used as a value: possibly true where `whenTrue`, possibly false where `whenFalse`, else undefined. */
  | { kind: 'boolean'; whenTrue: string; whenFalse: string };

/** A json term that is `column -> segment -> ...` in one of the GIN-indexed *_query columns (jsonb objects). */
export interface ColumnPath {
  column: string;
  segments: PathSegment[];
}

/** The rows a condition is compiled for. */
export interface TargetShape {
  modules: boolean;
  /** false: the target has no twins row and its view shows the empty twin. */
  twin: boolean;
}

const UNDEFINED: Term = { kind: 'const', value: undefined };
/** Array indexes past this cannot exist in a twin and would overflow the int parameter. */
const MAX_INDEX = 2 ** 31 - 1;
/** What the *_query copies cannot hold as is ("\u0000", lone surrogates), and U+FFFD, which they hold instead. */
const LOSSY = /[\u0000\uFFFD]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when the string is the same in a *_query copy as in the document, and no other string's copy equals it. */
export function isLossless(text: string): boolean {
  return !LOSSY.test(text);
}

/** The term for a path of the twin view. */
export function resolvePath(segments: PathSegment[], shape: TargetShape, params: SqlParams): Term {
  const [head, ...rest] = segments;
  const identity = shape.modules ? 'm' : 'd';
  switch (head) {
    case 'deviceId':
      return scalar('to_jsonb(d.device_id)', rest);
    case 'moduleId':
      return shape.modules ? scalar('to_jsonb(m.module_id)', rest) : UNDEFINED;
    case 'etag':
    case 'deviceEtag':
    case 'connectionState':
    case 'lastActivityTime':
      return unknownScalar('string', rest);
    case 'cloudToDeviceMessageCount':
      return unknownScalar('number', rest);
    case 'status':
      return scalar('to_jsonb(d.status)', rest);
    case 'statusReason':
      return scalar(`COALESCE(to_jsonb(d.status_reason), 'null'::jsonb)`, rest);
    case 'statusUpdateTime':
      return scalar('to_jsonb(d.status_updated_time)', rest);
    // The registry validates authentication documents (an enum, hex thumbprints), so reading them as jsonb is safe.
    case 'authenticationType':
      return scalar(`to_jsonb(${identity}.authentication ->> 'type')`, rest);
    case 'x509Thumbprint':
      return jsonPath(`(${identity}.authentication -> 'x509Thumbprint')::jsonb`, rest, params);
    case 'modelId':
      return constant('', rest);
    case 'version':
      return shape.twin ? scalar('to_jsonb(t.version)', rest) : constant(1, rest);
    case 'tags':
      return shape.twin ? columnPath('t.tags_query', rest, params) : constant({}, rest);
    case 'properties':
      return properties(rest, shape, params);
    case 'capabilities':
      return shape.modules ? UNDEFINED : jsonPath('d.capabilities::jsonb', rest, params);
    case 'deviceScope':
      return shape.modules ? UNDEFINED : scalar(`COALESCE(to_jsonb(d.device_scope), 'null'::jsonb)`, rest);
    // Unvalidated strings, which jsonb may refuse.
    case 'parentScopes':
      return shape.modules ? UNDEFINED : unknownContainer('array', rest);
    default:
      return UNDEFINED;
  }
}

function properties(rest: PathSegment[], shape: TargetShape, params: SqlParams): Term {
  const [section, name, ...deeper] = rest;
  if (section === undefined) return unknownContainer('object', []);
  if (section !== 'desired' && section !== 'reported') return UNDEFINED;
  if (name === undefined) return unknownContainer('object', []);
  // The view puts the section's $version and $metadata over any property of the same name.
  if (name === '$version') return shape.twin ? scalar(`to_jsonb(t.${section}_version)`, deeper) : constant(1, deeper);
  if (name === '$metadata') return unknownContainer('object', deeper);
  return shape.twin ? columnPath(`t.${section}_query`, [name, ...deeper], params) : UNDEFINED;
}

/** A string or number: nothing below it. */
function scalar(sql: string, rest: PathSegment[]): Term {
  return rest.length > 0 ? UNDEFINED : { kind: 'json', sql };
}

function constant(value: unknown, rest: PathSegment[]): Term {
  return { kind: 'const', value: evaluate({ kind: 'path', segments: rest }, value) };
}

function unknownScalar(type: JsonType, rest: PathSegment[]): Term {
  return rest.length > 0 ? UNDEFINED : { kind: 'unknown', type, mayBeDefined: TRUE, mayBeUndefined: FALSE };
}

/** An object or array SQL does not read: itself always there, anything below it unknown. */
function unknownContainer(type: 'object' | 'array', rest: PathSegment[]): Term {
  return rest.length > 0
    ? { kind: 'unknown', type: undefined, mayBeDefined: TRUE, mayBeUndefined: TRUE }
    : { kind: 'unknown', type, mayBeDefined: TRUE, mayBeUndefined: FALSE };
}

function columnPath(column: string, segments: PathSegment[], params: SqlParams): Term {
  const term = jsonPath(column, segments, params);
  return term.kind === 'json' ? { ...term, column: { column, segments } } : term;
}

/**
 * Reads what the evaluator's lookup reads: members of objects only, elements of arrays only, NULL otherwise. `->`
 * with a text key does; `->` with an index would not (a scalar is its own element 0), so elements are read with a
 * strict jsonpath, whose errors on anything but an array are silenced to NULL. Keys the *_query copies do not hold
 * exactly make the value unknown.
 */
function jsonPath(root: string, segments: PathSegment[], params: SqlParams): Term {
  let sql = root;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (segment > MAX_INDEX) return UNDEFINED;
      sql = `jsonb_path_query_first(${sql}, ${params.add(`strict $[${segment}]`, 'jsonpath')}, '{}', true)`;
    } else {
      if (!isLossless(segment)) return { kind: 'unknown', type: undefined, mayBeDefined: TRUE, mayBeUndefined: TRUE };
      sql = `(${sql} -> ${params.add(segment, 'text')})`;
    }
  }
  return { kind: 'json', sql };
}
