/**
 * Compiles a twin query's WHERE expression to a SQL condition over one candidate row (see twin-query-terms.ts) that
 * holds on every row whose twin view the in-memory evaluator (domain/query/evaluate.ts) would match, and on as few
 * others as the compiler can manage. The evaluator is three-valued (true, false, undefined), so every expression is
 * compiled for a wanted outcome: `condition(e, true)` may-holds where e is true, `condition(e, false)` where e is
 * false. NOT swaps the outcome instead of negating SQL, so an over-approximation never turns into an
 * under-approximation under it; whatever cannot be expressed becomes TRUE for either outcome. SQL NOT appears only
 * on exact tests of values already known to be present. The hub still evaluates the query on every candidate.
 */
import type { ComparisonOperator, FunctionName } from '../../domain/query/ast.js';
import { evaluate, type Expression, type PathSegment, type Primitive } from '../../domain/query/index.js';
import { and, constant, FALSE, or, TRUE, type SqlParams } from './sql-text.js';
import { isLossless, PRIMITIVE_TYPES, resolvePath, type JsonType, type TargetShape, type Term } from './twin-query-terms.js';

type JsonTerm = Extract<Term, { kind: 'json' }>;
type UnknownTerm = Extract<Term, { kind: 'unknown' }>;

const ALL_TYPES: readonly JsonType[] = [...PRIMITIVE_TYPES, 'object', 'array'];
const TYPE_TESTS: Partial<Record<FunctionName, readonly JsonType[]>> = {
  IS_DEFINED: ALL_TYPES,
  IS_NULL: ['null'],
  IS_STRING: ['string'],
  IS_NUMBER: ['number'],
  IS_BOOL: ['boolean'],
  IS_OBJECT: ['object'],
  IS_ARRAY: ['array'],
  IS_PRIMITIVE: PRIMITIVE_TYPES,
};
const MIRRORED: Record<ComparisonOperator, ComparisonOperator> = { '=': '=', '!=': '!=', '<': '>', '>': '<', '<=': '>=', '>=': '<=' };
const OPPOSITE: Record<'<' | '>' | '<=' | '>=', string> = { '<': '>=', '>': '<=', '<=': '>', '>=': '<' };
/**
 * Strings order by UTF-16 code unit in the evaluator and by code point under COLLATE "C"; the two agree on strings
 * below U+D800. So a literal must be, and a stored string with a character from U+E000 up (which includes the U+FFFD
 * of the lossy copies and every character beyond the BMP) may be in either order.
 */
const ORDER_SAFE = /^[\u0001-\uD7FF]*$/;
const ORDER_UNSAFE_SQL = `'[\\uE000-\\U0010FFFF]'`;

/** A condition that holds wherever `where` is true for the row's twin view, as the shape's rows see it. */
export function compileWhere(where: Expression, shape: TargetShape, params: SqlParams): string {
  return new Compiler(shape, params).condition(where, true);
}

class Compiler {
  /**
   * Each expression's conditions, once: a condition used as a value needs both outcomes of its operands, which
   * would otherwise be compiled again at every level of nesting (2^depth).
   */
  readonly #compiled = new Map<Expression, Partial<Record<'true' | 'false', string>>>();

  constructor(
    private readonly shape: TargetShape,
    private readonly params: SqlParams,
  ) {}

  /** Holds wherever the expression evaluates to exactly `want`, and maybe elsewhere. */
  condition(e: Expression, want: boolean): string {
    let known = this.#compiled.get(e);
    if (known === undefined) this.#compiled.set(e, (known = {}));
    return (known[`${want}`] ??= this.compile(e, want));
  }

  private compile(e: Expression, want: boolean): string {
    if (!hasPath(e)) return constant(evaluate(e, {}) === want);
    switch (e.kind) {
      case 'literal':
      case 'negate':
      case 'arithmetic':
        return FALSE;
      case 'path':
        return this.isBoolean(this.term(e), want);
      case 'not':
        return this.condition(e.operand, !want);
      case 'and':
        return want ? and(this.condition(e.left, true), this.condition(e.right, true)) : or(this.condition(e.left, false), this.condition(e.right, false));
      case 'or':
        return want ? or(this.condition(e.left, true), this.condition(e.right, true)) : and(this.condition(e.left, false), this.condition(e.right, false));
      case 'compare':
        return this.compare(e.operator, this.term(e.left), this.term(e.right), want);
      case 'in':
        // NIN is true where IN is false (both undefined for a non-primitive).
        return this.in(this.term(e.operand), e.values, e.negated ? !want : want);
      case 'call':
        return this.call(e.name, e.args.map((arg) => this.term(arg)), want);
    }
  }

  private term(e: Expression): Term {
    if (!hasPath(e)) return { kind: 'const', value: evaluate(e, {}) };
    switch (e.kind) {
      case 'path':
        return resolvePath(e.segments, this.shape, this.params);
      case 'negate': {
        const operand = this.term(e.operand);
        if (operand.kind === 'const') return { kind: 'const', value: fold(([x]) => ({ kind: 'negate', operand: x! }), [operand.value]) };
        return someNumber(this.canBe(operand, 'number'));
      }
      case 'arithmetic': {
        const left = this.term(e.left);
        const right = this.term(e.right);
        if (left.kind === 'const' && right.kind === 'const') {
          return { kind: 'const', value: fold(([l, r]) => ({ ...e, left: l!, right: r! }), [left.value, right.value]) };
        }
        // JavaScript's double arithmetic is not SQL's (numeric is exact, float8 raises on overflow): left unknown.
        return someNumber(and(this.canBe(left, 'number'), this.canBe(right, 'number')));
      }
      default:
        return { kind: 'boolean', whenTrue: this.condition(e, true), whenFalse: this.condition(e, false) };
    }
  }

  /** The term used as a condition: only the JSON value `want` itself counts. */
  private isBoolean(term: Term, want: boolean): string {
    switch (term.kind) {
      case 'const':
        return constant(term.value === want);
      case 'json':
        return this.equal(term, want);
      case 'unknown':
        return term.type === undefined || term.type === 'boolean' ? term.mayBeDefined : FALSE;
      case 'boolean':
        return want ? term.whenTrue : term.whenFalse;
    }
  }

  private compare(op: ComparisonOperator, left: Term, right: Term, want: boolean): string {
    if (left.kind === 'const' && right.kind !== 'const') return this.compare(MIRRORED[op], right, left, want);
    if (right.kind === 'const' && !isPrimitive(right.value)) return FALSE;
    if (left.kind === 'const' && right.kind === 'const') return constant(foldCompare(op, left.value, right.value) === want);
    if (left.kind === 'json' && right.kind === 'const') {
      const value = right.value as Primitive;
      if (op === '=' || op === '!=') return (op === '=') === want ? this.equal(left, value) : this.notEqual(left, value);
      return this.order(left, op, value, want);
    }
    if (left.kind === 'boolean' && right.kind === 'const') {
      return or(...[true, false].filter((v) => foldCompare(op, v, right.value) === want).map((v) => (v ? left.whenTrue : left.whenFalse)));
    }
    if (left.kind === 'json' && right.kind === 'json') {
      return and(this.canBeOneOf(left, PRIMITIVE_TYPES), `jsonb_typeof(${left.sql}) = jsonb_typeof(${right.sql})`);
    }
    // Values SQL cannot see: the comparison is defined at most where both may be primitives of one type.
    const type = knownType(left) ?? knownType(right);
    if (type === undefined) return and(this.canBeOneOf(left, PRIMITIVE_TYPES), this.canBeOneOf(right, PRIMITIVE_TYPES));
    if (!PRIMITIVE_TYPES.includes(type)) return FALSE;
    return and(this.canBe(left, type), this.canBe(right, type));
  }

  /** The value is `value`'s type and equal to it. Containment (@>) where the GIN indexes can serve it. */
  private equal(term: JsonTerm, value: Primitive): string {
    const keys = term.column?.segments;
    if (keys !== undefined && keys.length > 0 && keys.every((k): k is string => typeof k === 'string')) {
      return `${term.column!.column} @> ${this.params.json(nested(keys, JSON.stringify(value)))}`;
    }
    // A lossy string literal matches the U+FFFD copies of more strings: a superset, as wanted.
    return `${term.sql} = ${this.params.json(JSON.stringify(value))}`;
  }

  /** The value is `value`'s type and not equal to it. */
  private notEqual(term: JsonTerm, value: Primitive): string {
    if (value === null) return FALSE;
    const type = typeOf(value);
    if (typeof value === 'string' && !isLossless(value)) return this.typeIn(term, [type]);
    return and(this.typeIn(term, [type]), `${term.sql} <> ${this.params.json(JSON.stringify(value))}`);
  }

  private order(term: JsonTerm, op: '<' | '>' | '<=' | '>=', value: Primitive, want: boolean): string {
    const type = typeOf(value);
    const holds = want ? op : OPPOSITE[op];
    if (value === null) return and(this.typeIn(term, ['null']), constant(foldCompare(op, null, null) === want));
    if (typeof value !== 'string') return and(this.typeIn(term, [type]), `${term.sql} ${holds} ${this.params.json(JSON.stringify(value))}`);
    if (!ORDER_SAFE.test(value)) return this.typeIn(term, ['string']);
    const text = `(${term.sql} #>> '{}')`;
    return and(this.typeIn(term, ['string']), or(`${text} COLLATE "C" ${holds} ${this.params.add(value, 'text')}`, `${text} ~ ${ORDER_UNSAFE_SQL}`));
  }

  private in(term: Term, values: Primitive[], want: boolean): string {
    switch (term.kind) {
      case 'const':
        return constant(fold(([x]) => ({ kind: 'in', negated: false, operand: x!, values }), [term.value]) === want);
      case 'json':
        if (want) return or(...values.map((v) => this.equal(term, v)));
        return and(
          this.canBeOneOf(term, PRIMITIVE_TYPES),
          ...values.map((v) => or(`jsonb_typeof(${term.sql}) <> '${typeOf(v)}'`, this.notEqual(term, v))),
        );
      case 'boolean':
        return or(...[true, false].filter((v) => values.includes(v) === want).map((v) => (v ? term.whenTrue : term.whenFalse)));
      case 'unknown':
        if (term.type !== undefined && !PRIMITIVE_TYPES.includes(term.type)) return FALSE;
        if (want && term.type !== undefined && !values.some((v) => typeOf(v) === term.type)) return FALSE;
        return term.mayBeDefined;
    }
  }

  private call(name: FunctionName, args: Term[], want: boolean): string {
    if (args.every((a) => a.kind === 'const')) {
      return constant(fold((xs) => ({ kind: 'call', name, args: xs }), args.map((a) => (a as { value: unknown }).value)) === want);
    }
    const [first, second] = args as [Term, Term];
    const types = TYPE_TESTS[name];
    if (types !== undefined) return this.typeTest(first, types, want);
    if (name === 'ARRAY_CONTAINS') return this.arrayContains(first, second, want);
    return this.affix(name === 'STARTS_WITH' ? 'starts' : 'ends', first, second, want);
  }

  /** IS_DEFINED, IS_NULL, IS_STRING, ...: true when the value has one of the types, false otherwise (undefined too). */
  private typeTest(term: Term, types: readonly JsonType[], want: boolean): string {
    const all = types.length === ALL_TYPES.length;
    switch (term.kind) {
      case 'const':
        return constant((term.value !== undefined && types.includes(typeOf(term.value))) === want);
      case 'json':
        if (want) return all ? this.defined(term) : types.length === 1 && types[0] === 'null' ? this.equal(term, null) : this.typeIn(term, types);
        return all ? `${term.sql} IS NULL` : `COALESCE(jsonb_typeof(${term.sql}) NOT IN (${typeList(types)}), TRUE)`;
      case 'boolean':
        return this.typeTest(asUnknown(term), types, want);
      case 'unknown': {
        if (want) return term.type === undefined || types.includes(term.type) ? term.mayBeDefined : FALSE;
        const otherType = term.type === undefined ? !all : !types.includes(term.type);
        return or(term.mayBeUndefined, otherType ? term.mayBeDefined : FALSE);
      }
    }
  }

  private affix(which: 'starts' | 'ends', text: Term, affix: Term, want: boolean): string {
    if (text.kind === 'json' && affix.kind === 'const') {
      if (typeof affix.value !== 'string') return FALSE;
      if (!isLossless(affix.value)) return this.typeIn(text, ['string']);
      const value = `(${text.sql} #>> '{}')`;
      const param = this.params.add(affix.value, 'text');
      const test = which === 'starts' ? `starts_with(${value}, ${param})` : `right(${value}, char_length(${param})) = ${param}`;
      return and(this.typeIn(text, ['string']), want ? test : `NOT ${test}`);
    }
    return and(this.canBe(text, 'string'), this.canBe(affix, 'string'));
  }

  /** ARRAY_CONTAINS is defined when the first value is an array and the second is defined; equality is deep. */
  private arrayContains(array: Term, item: Term, want: boolean): string {
    if (array.kind !== 'json') return and(this.canBe(array, 'array'), this.mayBeDefined(item));
    const isArray = this.typeIn(array, ['array']);
    if (item.kind === 'const') {
      const value = item.value;
      if (value === undefined) return FALSE;
      if (!isPrimitive(value)) return isArray;
      const exact = typeof value !== 'string' || isLossless(value);
      const keys = array.column?.segments;
      if (!want) return exact ? and(isArray, `NOT (${array.sql} @> ${this.params.json(`[${JSON.stringify(value)}]`)})`) : isArray;
      if (keys !== undefined && keys.length > 0 && keys.every((k): k is string => typeof k === 'string')) {
        return `${array.column!.column} @> ${this.params.json(nested(keys, `[${JSON.stringify(value)}]`))}`;
      }
      return and(isArray, `${array.sql} @> ${this.params.json(`[${JSON.stringify(value)}]`)}`);
    }
    if (item.kind === 'json') {
      const present = `${item.sql} IS NOT NULL`;
      if (!want) return and(isArray, present);
      // Containment of a primitive in an array is equality with an element; of objects and arrays only a superset of it.
      const contains = `(CASE WHEN jsonb_typeof(${item.sql}) IN ('object', 'array') THEN TRUE ELSE ${array.sql} @> jsonb_build_array(${item.sql}) END)`;
      return and(isArray, present, contains);
    }
    return and(isArray, this.mayBeDefined(item));
  }

  /** The value may have the type. */
  private canBe(term: Term, type: JsonType): string {
    return this.canBeOneOf(term, [type]);
  }

  private canBeOneOf(term: Term, types: readonly JsonType[]): string {
    switch (term.kind) {
      case 'const':
        return constant(term.value !== undefined && types.includes(typeOf(term.value)));
      case 'json':
        return this.typeIn(term, types);
      case 'boolean':
        return types.includes('boolean') ? or(term.whenTrue, term.whenFalse) : FALSE;
      case 'unknown':
        return term.type === undefined || types.includes(term.type) ? term.mayBeDefined : FALSE;
    }
  }

  private mayBeDefined(term: Term): string {
    return this.canBeOneOf(term, ALL_TYPES);
  }

  /** Exactly: the value is present. A top-level key is a `?` test the GIN index serves. */
  private defined(term: JsonTerm): string {
    const keys = term.column?.segments;
    if (keys?.length === 1 && typeof keys[0] === 'string') return `${term.column!.column} ? ${this.params.add(keys[0], 'text')}`;
    return and(this.keyPresent(term), `${term.sql} IS NOT NULL`);
  }

  /** Exactly: the value is present and of one of the types. */
  private typeIn(term: JsonTerm, types: readonly JsonType[]): string {
    if (types.length === ALL_TYPES.length) return this.defined(term);
    const test = types.length === 1 ? `jsonb_typeof(${term.sql}) = '${types[0]}'` : `jsonb_typeof(${term.sql}) IN (${typeList(types)})`;
    return and(this.keyPresent(term), test);
  }

  /** Implied by the value being present; only there so the GIN index can narrow the rows (`?` on the first key). */
  private keyPresent(term: JsonTerm): string {
    const first = term.column?.segments[0];
    return typeof first === 'string' ? `${term.column!.column} ? ${this.params.add(first, 'text')}` : TRUE;
  }
}

function hasPath(e: Expression): boolean {
  switch (e.kind) {
    case 'literal':
      return false;
    case 'path':
      return true;
    case 'negate':
    case 'not':
    case 'in':
      return hasPath(e.operand);
    case 'arithmetic':
    case 'compare':
    case 'and':
    case 'or':
      return hasPath(e.left) || hasPath(e.right);
    case 'call':
      return e.args.some(hasPath);
  }
}

/** Runs the evaluator on known values (which may be undefined, objects or arrays: no literal can hold those). */
function fold(build: (args: Expression[]) => Expression, values: unknown[]): unknown {
  const document: Record<string, unknown> = {};
  const args = values.map((value, i): Expression => {
    if (value !== undefined) document[`v${i}`] = value;
    return { kind: 'path', segments: [`v${i}`] };
  });
  return evaluate(build(args), document);
}

function foldCompare(operator: ComparisonOperator, left: unknown, right: unknown): unknown {
  return fold(([l, r]) => ({ kind: 'compare', operator, left: l!, right: r! }), [left, right]);
}

function someNumber(mayBeDefined: string): UnknownTerm {
  return { kind: 'unknown', type: 'number', mayBeDefined, mayBeUndefined: TRUE };
}

function asUnknown(term: Extract<Term, { kind: 'boolean' }>): UnknownTerm {
  return { kind: 'unknown', type: 'boolean', mayBeDefined: or(term.whenTrue, term.whenFalse), mayBeUndefined: TRUE };
}

function knownType(term: Term): JsonType | undefined {
  if (term.kind === 'const') return term.value === undefined ? undefined : typeOf(term.value);
  if (term.kind === 'boolean') return 'boolean';
  return term.kind === 'unknown' ? term.type : undefined;
}

function isPrimitive(value: unknown): value is Primitive {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function typeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value as JsonType;
}

function typeList(types: readonly JsonType[]): string {
  return types.map((t) => `'${t}'`).join(', ');
}

/** `{"a":{"b":<json>}}` for keys a, b. */
function nested(keys: readonly PathSegment[], json: string): string {
  return keys.reduceRight<string>((inner, key) => `{${JSON.stringify(key)}:${inner}}`, json);
}
