/**
 * The parsed form of an IoT Hub query. It says what the query means and nothing about how to run it: the in-memory
 * evaluator walks it, and a SQL compiler can translate it. Names are resolved by the parser (collection qualifiers
 * stripped, output keys chosen), so consumers need no knowledge of the surface syntax.
 */

export type Collection = 'devices' | 'devices.modules';

/** An object key, or an array index from the `[0]` form. */
export type PathSegment = string | number;

/** A property of the twin document, e.g. `properties.reported.fw` → `['properties', 'reported', 'fw']`. */
export interface PathExpression {
  kind: 'path';
  segments: PathSegment[];
}

export type Primitive = string | number | boolean | null;

export interface LiteralExpression {
  kind: 'literal';
  value: Primitive;
}

export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';
/** `<>` is parsed as `!=`. */
export type ComparisonOperator = '=' | '!=' | '<' | '>' | '<=' | '>=';

export type FunctionName =
  | 'IS_DEFINED'
  | 'IS_NULL'
  | 'IS_STRING'
  | 'IS_NUMBER'
  | 'IS_BOOL'
  | 'IS_OBJECT'
  | 'IS_ARRAY'
  | 'IS_PRIMITIVE'
  | 'STARTS_WITH'
  | 'ENDS_WITH'
  | 'ARRAY_CONTAINS';

export type Expression =
  | LiteralExpression
  | PathExpression
  | { kind: 'negate'; operand: Expression }
  | { kind: 'arithmetic'; operator: ArithmeticOperator; left: Expression; right: Expression }
  | { kind: 'compare'; operator: ComparisonOperator; left: Expression; right: Expression }
  | { kind: 'and' | 'or'; left: Expression; right: Expression }
  | { kind: 'not'; operand: Expression }
  /** `x IN [..]`, or with `negated` `x NIN [..]` / `x NOT IN [..]`. */
  | { kind: 'in'; negated: boolean; operand: Expression; values: Primitive[] }
  | { kind: 'call'; name: FunctionName; args: Expression[] };

/** One entry of the select list; `name` is the key it gets in each result object. */
export type Projection = { kind: 'path'; path: PathExpression; name: string } | { kind: 'count'; name: string };

export interface Query {
  from: Collection;
  /** `undefined` for `SELECT *`. */
  select: Projection[] | undefined;
  top: number | undefined;
  where: Expression | undefined;
  /** Empty when the query has no GROUP BY. */
  groupBy: PathExpression[];
}

/** True when the query produces one row per group (or a single row) rather than one row per twin. */
export function isAggregate(query: Query): boolean {
  return query.groupBy.length > 0 || (query.select?.some((p) => p.kind === 'count') ?? false);
}
