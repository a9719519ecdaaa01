/**
 * Recursive-descent parser for the IoT Hub twin query language:
 *
 *   query      = SELECT [TOP int] ( '*' | item {',' item} ) FROM source [WHERE or] [GROUP BY path {',' path}]
 *   item       = ( COUNT '(' ')' | path ) [AS word]
 *   source     = devices | devices '.' modules
 *   or         = and {OR and}          and = not {AND not}          not = NOT not | comparison
 *   comparison = sum [ ( '=' | '!=' | '<>' | '<' | '>' | '<=' | '>=' ) sum | (IN | NIN | NOT IN) list ]
 *   sum        = product {('+' | '-') product}        product = unary {('*' | '/' | '%') unary}
 *   unary      = '-' unary | primary
 *   primary    = number | string | TRUE | FALSE | NULL | '(' or ')' | word '(' [or {',' or}] ')' | path
 *   path       = word {'.' word | '[' (string | int) ']'}          list = '[' [constant {',' constant}] ']'
 *
 * Keywords are case-insensitive, property names are not. A leading `devices.` (or, querying module twins,
 * `devices.modules.`) qualifier is stripped from paths.
 */
import type { Collection, ComparisonOperator, Expression, FunctionName, PathExpression, PathSegment, Primitive, Projection, Query } from './ast.js';
import { MAX_QUERY_LENGTH, QuerySyntaxError, TokenCursor, tokenize, type Token } from './lexer.js';

/** The key COUNT() gets in the result when the query gives no alias. */
export const DEFAULT_COUNT_NAME = 'numberOfDevices';

const RESERVED = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'NIN', 'AS', 'GROUP', 'BY', 'TOP', 'ORDER', 'JOIN', 'TRUE', 'FALSE', 'NULL']);
const COMPARISONS: Record<string, ComparisonOperator> = { '=': '=', '!=': '!=', '<>': '!=', '<': '<', '>': '>', '<=': '<=', '>=': '>=' };
const ARITY: Record<FunctionName, number> = {
  IS_DEFINED: 1, IS_NULL: 1, IS_STRING: 1, IS_NUMBER: 1, IS_BOOL: 1, IS_OBJECT: 1, IS_ARRAY: 1, IS_PRIMITIVE: 1,
  STARTS_WITH: 2, ENDS_WITH: 2, ARRAY_CONTAINS: 2,
};
const SPELLINGS: Record<string, FunctionName> = { STARTSWITH: 'STARTS_WITH', ENDSWITH: 'ENDS_WITH' };
/** Functions of Azure's routing-query dialect and aggregates other than COUNT: valid IoT Hub syntax we don't run. */
const UNSUPPORTED_FUNCTIONS = new Set([
  'ABS', 'EXP', 'POWER', 'SQUARE', 'CEILING', 'FLOOR', 'SIGN', 'SQRT', 'AS_NUMBER', 'CONCAT', 'LENGTH', 'LOWER', 'UPPER',
  'SUBSTRING', 'INDEX_OF', 'CONTAINS', 'AVG', 'SUM', 'MIN', 'MAX',
]);

export function parseQuery(text: string): Query {
  if (text.length > MAX_QUERY_LENGTH) {
    const before = text.slice(0, MAX_QUERY_LENGTH).split('\n');
    const at = { line: before.length, column: before[before.length - 1]!.length + 1, text: text.slice(MAX_QUERY_LENGTH, MAX_QUERY_LENGTH + 10) };
    throw new QuerySyntaxError(at, `the query is ${text.length} characters long; the maximum is ${MAX_QUERY_LENGTH}`);
  }
  return new Parser(tokenize(text)).query();
}

class Parser extends TokenCursor {
  /** Every path built, so the collection qualifier can be stripped once FROM has been read. */
  private readonly paths: PathExpression[] = [];

  query(): Query {
    this.expectKeyword('SELECT', 'expected SELECT');
    const top = this.isKeyword('TOP') ? this.topCount() : undefined;
    const star = this.peek();
    const selection = this.acceptSymbol('*') ? undefined : this.projections();
    this.expectKeyword('FROM', selection === undefined ? 'expected FROM' : "expected ',' or FROM");
    const from = this.collection();
    this.rejectUnsupportedClause();
    const where = this.acceptKeyword('WHERE') ? this.or() : undefined;
    this.rejectUnsupportedClause();
    const groupBy: PathExpression[] = [];
    if (this.acceptKeyword('GROUP')) {
      this.expectKeyword('BY', 'expected BY');
      do groupBy.push(this.path()); while (this.acceptSymbol(','));
    }
    this.rejectUnsupportedClause();
    if (this.peek().kind !== 'end') {
      const expected = groupBy.length > 0 ? "',' or end of query" : where ? 'GROUP BY or end of query' : 'WHERE, GROUP BY or end of query';
      this.fail(this.peek(), `expected ${expected}`);
    }
    for (const path of this.paths) path.segments = stripQualifier(path.segments, from);
    if (selection === undefined && groupBy.length > 0) this.fail(star, 'SELECT * cannot be used with GROUP BY');
    if (selection !== undefined) checkGrouping(selection, groupBy, (token, detail) => this.fail(token, detail));
    return { from, select: selection?.map((s) => s.projection), top, where, groupBy };
  }

  private topCount(): number {
    this.next();
    const count = this.next();
    if (count.kind !== 'number' || !Number.isSafeInteger(count.value)) this.fail(count, 'expected a whole number after TOP');
    return count.value as number;
  }

  private projections(): Array<{ projection: Projection; token: Token }> {
    const items: Array<{ projection: Projection; token: Token }> = [];
    do {
      const token = this.peek();
      const projection = this.projection();
      if (items.some((i) => i.projection.name === projection.name)) {
        this.fail(token, `duplicate result name '${projection.name}' (use AS to rename)`);
      }
      items.push({ projection, token });
    } while (this.acceptSymbol(','));
    return items;
  }

  private projection(): Projection {
    const token = this.peek();
    if (token.kind === 'word' && this.peek(1).text === '(') {
      const name = token.text.toUpperCase();
      if (name !== 'COUNT') {
        if (UNSUPPORTED_FUNCTIONS.has(name)) this.fail(token, `${name}() is not supported`, true);
        this.fail(token, 'only property paths and COUNT() can be selected');
      }
      this.next();
      this.next();
      this.expectSymbol(')', 'COUNT takes no arguments');
      return { kind: 'count', name: this.alias() ?? DEFAULT_COUNT_NAME };
    }
    if (token.kind !== 'word' || RESERVED.has(token.text.toUpperCase())) this.fail(token, "expected '*', a property path or COUNT()");
    const path = this.path();
    return { kind: 'path', path, name: this.alias() ?? String(path.segments[path.segments.length - 1]) };
  }

  private alias(): string | undefined {
    if (!this.acceptKeyword('AS')) return undefined;
    const name = this.next();
    if (name.kind !== 'word' || RESERVED.has(name.text.toUpperCase())) this.fail(name, 'expected a name after AS');
    return name.text;
  }

  private collection(): Collection {
    const token = this.next();
    if (token.text === '(') this.fail(token, 'subqueries are not supported', true);
    if (token.kind !== 'word' || token.text.toLowerCase() !== 'devices') this.fail(token, 'expected devices or devices.modules');
    if (!this.acceptSymbol('.')) return 'devices';
    const member = this.next();
    const name = member.text.toLowerCase();
    if (member.kind === 'word' && name === 'modules') return 'devices.modules';
    if (member.kind === 'word' && name === 'jobs') this.fail(member, 'querying devices.jobs is not supported', true);
    return this.fail(member, 'expected modules after devices.');
  }

  private rejectUnsupportedClause(): void {
    const token = this.peek();
    if (this.isKeyword('ORDER')) this.fail(token, 'ORDER BY is not supported', true);
    if (this.isKeyword('JOIN')) this.fail(token, 'JOIN is not supported', true);
  }

  private or(): Expression {
    let left = this.and();
    while (this.acceptKeyword('OR')) left = { kind: 'or', left, right: this.and() };
    return left;
  }

  private and(): Expression {
    let left = this.not();
    while (this.acceptKeyword('AND')) left = { kind: 'and', left, right: this.not() };
    return left;
  }

  private not(): Expression {
    return this.acceptKeyword('NOT') ? { kind: 'not', operand: this.not() } : this.comparison();
  }

  private comparison(): Expression {
    const left = this.sum();
    const operator = this.peek().kind === 'symbol' ? COMPARISONS[this.peek().text] : undefined;
    if (operator !== undefined) {
      this.next();
      return { kind: 'compare', operator, left, right: this.sum() };
    }
    if (this.acceptKeyword('IN')) return { kind: 'in', negated: false, operand: left, values: this.list() };
    if (this.acceptKeyword('NIN')) return { kind: 'in', negated: true, operand: left, values: this.list() };
    if (this.isKeyword('NOT') && this.isKeyword('IN', 1)) {
      this.position += 2;
      return { kind: 'in', negated: true, operand: left, values: this.list() };
    }
    return left;
  }

  private sum(): Expression {
    let left = this.product();
    for (let op = this.peek().text; this.peek().kind === 'symbol' && (op === '+' || op === '-'); op = this.peek().text) {
      this.next();
      left = { kind: 'arithmetic', operator: op, left, right: this.product() };
    }
    return left;
  }

  private product(): Expression {
    let left = this.unary();
    for (let op = this.peek().text; this.peek().kind === 'symbol' && (op === '*' || op === '/' || op === '%'); op = this.peek().text) {
      this.next();
      left = { kind: 'arithmetic', operator: op, left, right: this.unary() };
    }
    return left;
  }

  private unary(): Expression {
    if (!this.acceptSymbol('-')) return this.primary();
    const operand = this.unary();
    // Fold `-5` into a literal so a negative constant looks like one to every consumer of the tree.
    if (operand.kind === 'literal' && typeof operand.value === 'number') return { kind: 'literal', value: -operand.value };
    return { kind: 'negate', operand };
  }

  private primary(): Expression {
    const token = this.peek();
    if (token.kind === 'number' || token.kind === 'string') {
      this.next();
      return { kind: 'literal', value: token.value! };
    }
    const constant = token.kind === 'word' ? keywordConstant(token.text) : undefined;
    if (constant !== undefined) {
      this.next();
      return { kind: 'literal', value: constant.value };
    }
    if (this.acceptSymbol('(')) {
      if (this.isKeyword('SELECT')) this.fail(this.peek(), 'subqueries are not supported', true);
      const inner = this.or();
      this.expectSymbol(')', "expected ')'");
      return inner;
    }
    if (token.kind === 'word' && this.peek(1).text === '(') return this.call();
    if (token.text === '[') this.fail(token, 'array constants are only allowed after IN or NIN');
    if (token.kind !== 'word' || RESERVED.has(token.text.toUpperCase())) this.fail(token, 'expected a value, a property path or a function call');
    return this.path();
  }

  private call(): Expression {
    const token = this.next();
    const upper = token.text.toUpperCase();
    const name = SPELLINGS[upper] ?? upper;
    if (name === 'COUNT') this.fail(token, 'COUNT() is only allowed in the select list');
    if (UNSUPPORTED_FUNCTIONS.has(name)) this.fail(token, `${name}() is not supported in twin queries`, true);
    if (!(name in ARITY)) this.fail(token, `unknown function '${token.text}'`);
    this.next();
    const args: Expression[] = [];
    if (!this.acceptSymbol(')')) {
      do args.push(this.or()); while (this.acceptSymbol(','));
      this.expectSymbol(')', "expected ',' or ')'");
    }
    const arity = ARITY[name as FunctionName];
    if (args.length !== arity) this.fail(token, `${name} takes ${arity} argument${arity === 1 ? '' : 's'}, got ${args.length}`);
    return { kind: 'call', name: name as FunctionName, args };
  }

  private list(): Primitive[] {
    this.expectSymbol('[', "expected '['");
    const values: Primitive[] = [];
    if (this.acceptSymbol(']')) return values;
    do {
      const start = this.peek();
      const item = this.unary();
      if (item.kind !== 'literal') this.fail(start, 'expected a constant in the list');
      values.push(item.value);
    } while (this.acceptSymbol(','));
    this.expectSymbol(']', "expected ',' or ']'");
    return values;
  }

  private path(): PathExpression {
    const first = this.next();
    if (first.kind !== 'word' || RESERVED.has(first.text.toUpperCase())) this.fail(first, 'expected a property path');
    const segments: PathSegment[] = [first.text];
    for (;;) {
      if (this.acceptSymbol('.')) {
        const name = this.next();
        if (name.kind !== 'word') this.fail(name, "expected a property name after '.'");
        segments.push(name.text);
      } else if (this.acceptSymbol('[')) {
        const key = this.next();
        const isIndex = key.kind === 'number' && Number.isSafeInteger(key.value);
        if (key.kind !== 'string' && !isIndex) this.fail(key, 'expected a quoted property name or an array index');
        segments.push(key.value!);
        this.expectSymbol(']', "expected ']'");
      } else {
        break;
      }
    }
    const path: PathExpression = { kind: 'path', segments };
    this.paths.push(path);
    return path;
  }
}

function keywordConstant(word: string): { value: Primitive } | undefined {
  const upper = word.toUpperCase();
  if (upper === 'TRUE') return { value: true };
  if (upper === 'FALSE') return { value: false };
  if (upper === 'NULL') return { value: null };
  return undefined;
}

function stripQualifier(segments: PathSegment[], from: Collection): PathSegment[] {
  if (segments[0] !== 'devices' || segments.length < 2) return segments;
  if (from === 'devices.modules' && segments[1] === 'modules' && segments.length > 2) return segments.slice(2);
  return segments.slice(1);
}

/** Plain paths next to COUNT(), or under GROUP BY, must be grouped paths: any other value differs within a group. */
function checkGrouping(
  selection: Array<{ projection: Projection; token: Token }>,
  groupBy: PathExpression[],
  fail: (token: Token, detail: string) => never,
): void {
  const hasCount = selection.some((s) => s.projection.kind === 'count');
  if (!hasCount && groupBy.length === 0) return;
  for (const { projection, token } of selection) {
    if (projection.kind !== 'path') continue;
    const key = JSON.stringify(projection.path.segments);
    if (groupBy.some((g) => JSON.stringify(g.segments) === key)) continue;
    fail(token, groupBy.length === 0 ? 'a property path cannot be selected next to COUNT() without GROUP BY' : 'a selected property path must appear in GROUP BY');
  }
}
