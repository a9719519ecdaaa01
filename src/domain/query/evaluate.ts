/**
 * Runs a parsed query over twin documents in memory, with the DocumentDB semantics IoT Hub inherits: a missing
 * property, or an operator applied to values of the wrong types, yields "undefined" rather than an error, and a twin
 * matches only when its condition evaluates to exactly `true`. JavaScript's `undefined` plays that value here.
 */
import { isAggregate, type ArithmeticOperator, type ComparisonOperator, type Expression, type FunctionName, type PathSegment, type Primitive, type Query } from './ast.js';

export interface QueryResult {
  items: object[];
  /** `twin` when the items are whole twins (`SELECT *`), `raw` for projections and aggregates: the `x-ms-item-type`. */
  kind: 'twin' | 'raw';
}

export function runQuery(query: Query, twins: Iterable<object>): QueryResult {
  const limit = query.top ?? Infinity;
  if (query.select === undefined) return { items: take(matching(query, twins), limit), kind: 'twin' };
  if (isAggregate(query)) return { items: aggregate(query, twins).slice(0, limit), kind: 'raw' };
  const items: object[] = [];
  for (const twin of take(matching(query, twins), limit)) {
    const row: Record<string, unknown> = {};
    for (const projection of query.select) {
      if (projection.kind !== 'path') continue;
      const value = lookup(twin, projection.path.segments);
      if (value !== undefined) row[projection.name] = value;
    }
    items.push(row);
  }
  return { items, kind: 'raw' };
}

/** Evaluates an expression against one document; `undefined` is the query language's undefined. */
export function evaluate(expression: Expression, document: unknown): unknown {
  switch (expression.kind) {
    case 'literal':
      return expression.value;
    case 'path':
      return lookup(document, expression.segments);
    case 'negate': {
      const value = evaluate(expression.operand, document);
      return typeof value === 'number' ? -value : undefined;
    }
    case 'arithmetic':
      return arithmetic(expression.operator, evaluate(expression.left, document), evaluate(expression.right, document));
    case 'compare':
      return compare(expression.operator, evaluate(expression.left, document), evaluate(expression.right, document));
    case 'and': {
      const left = asBoolean(evaluate(expression.left, document));
      if (left === false) return false;
      const right = asBoolean(evaluate(expression.right, document));
      if (right === false) return false;
      return left === true && right === true ? true : undefined;
    }
    case 'or': {
      const left = asBoolean(evaluate(expression.left, document));
      if (left === true) return true;
      const right = asBoolean(evaluate(expression.right, document));
      if (right === true) return true;
      return left === false && right === false ? false : undefined;
    }
    case 'not': {
      const operand = asBoolean(evaluate(expression.operand, document));
      return operand === undefined ? undefined : !operand;
    }
    case 'in': {
      const value = evaluate(expression.operand, document);
      if (!isPrimitive(value)) return undefined;
      const found = expression.values.some((candidate) => compare('=', value, candidate) === true);
      return expression.negated ? !found : found;
    }
    case 'call':
      return call(expression.name, expression.args.map((arg) => evaluate(arg, document)));
  }
}

function* matching(query: Query, twins: Iterable<object>): Generator<object> {
  for (const twin of twins) {
    if (query.where === undefined || evaluate(query.where, twin) === true) yield twin;
  }
}

function take(items: Iterable<object>, limit: number): object[] {
  const taken: object[] = [];
  if (limit <= 0) return taken;
  for (const item of items) {
    taken.push(item);
    if (taken.length >= limit) break;
  }
  return taken;
}

/** One row per distinct combination of GROUP BY values (a twin without the property forms its own group). */
function aggregate(query: Query, twins: Iterable<object>): object[] {
  const groups = new Map<string, { values: unknown[]; count: number }>();
  for (const twin of matching(query, twins)) {
    const values = query.groupBy.map((path) => lookup(twin, path.segments));
    // Wrapping each value in an array keeps undefined (→ []) apart from null (→ [null]) in the key.
    const key = JSON.stringify(values.map((v) => (v === undefined ? [] : [v])));
    const group = groups.get(key);
    if (group) group.count++;
    else groups.set(key, { values, count: 1 });
  }
  if (query.groupBy.length === 0 && groups.size === 0) groups.set('', { values: [], count: 0 });

  const groupKeys = query.groupBy.map((path) => JSON.stringify(path.segments));
  const rows: object[] = [];
  for (const group of groups.values()) {
    const row: Record<string, unknown> = {};
    for (const projection of query.select ?? []) {
      if (projection.kind === 'count') {
        row[projection.name] = group.count;
      } else {
        const value = group.values[groupKeys.indexOf(JSON.stringify(projection.path.segments))];
        if (value !== undefined) row[projection.name] = value;
      }
    }
    rows.push(row);
  }
  return rows;
}

function lookup(document: unknown, segments: PathSegment[]): unknown {
  let current = document;
  for (const segment of segments) {
    if (typeof segment === 'number') current = Array.isArray(current) ? current[segment] : undefined;
    else current = isObject(current) && Object.hasOwn(current, segment) ? current[segment] : undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

function arithmetic(operator: ArithmeticOperator, left: unknown, right: unknown): number | undefined {
  if (typeof left !== 'number' || typeof right !== 'number') return undefined;
  const result =
    operator === '+' ? left + right : operator === '-' ? left - right : operator === '*' ? left * right : operator === '/' ? left / right : left % right;
  // Division by zero has no JSON value.
  return Number.isFinite(result) ? result : undefined;
}

/** Only primitives of the same type compare; anything else, undefined included, gives undefined. */
function compare(operator: ComparisonOperator, left: unknown, right: unknown): boolean | undefined {
  if (!isPrimitive(left) || !isPrimitive(right) || typeOf(left) !== typeOf(right)) return undefined;
  // Same-typed primitives: JavaScript orders numbers numerically, strings by UTF-16 code unit, false before true.
  const order = left === right || left === null ? 0 : (left as number) < (right as number) ? -1 : 1;
  switch (operator) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
    case '<=':
      return order <= 0;
    case '>=':
      return order >= 0;
  }
}

function call(name: FunctionName, args: unknown[]): boolean | undefined {
  const [first, second] = args;
  switch (name) {
    case 'IS_DEFINED':
      return first !== undefined;
    case 'IS_NULL':
      return first === null;
    case 'IS_STRING':
      return typeof first === 'string';
    case 'IS_NUMBER':
      return typeof first === 'number';
    case 'IS_BOOL':
      return typeof first === 'boolean';
    case 'IS_OBJECT':
      return isObject(first);
    case 'IS_ARRAY':
      return Array.isArray(first);
    case 'IS_PRIMITIVE':
      return isPrimitive(first);
    case 'STARTS_WITH':
      return typeof first === 'string' && typeof second === 'string' ? first.startsWith(second) : undefined;
    case 'ENDS_WITH':
      return typeof first === 'string' && typeof second === 'string' ? first.endsWith(second) : undefined;
    case 'ARRAY_CONTAINS':
      return Array.isArray(first) && second !== undefined ? first.some((item) => jsonEqual(item, second)) : undefined;
  }
}

function asBoolean(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

function isPrimitive(value: unknown): value is Primitive {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOf(value: Primitive): string {
  return value === null ? 'null' : typeof value;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}
