import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Expression, PathExpression } from '../../src/domain/query/index.js';
import { DEFAULT_COUNT_NAME, MAX_QUERY_LENGTH, parseQuery, QuerySyntaxError } from '../../src/domain/query/index.js';

const path = (...segments: Array<string | number>): PathExpression => ({ kind: 'path', segments });
const lit = (value: string | number | boolean | null): Expression => ({ kind: 'literal', value });
const where = (condition: string): Expression | undefined => parseQuery(`SELECT * FROM devices WHERE ${condition}`).where;

/** Asserts the query fails with exactly this message, and that line/column agree with it. */
function rejects(text: string, message: string, position: { line: number; column: number; unsupported?: boolean }): void {
  assert.throws(
    () => parseQuery(text),
    (err: unknown) => {
      assert.ok(err instanceof QuerySyntaxError, `expected QuerySyntaxError, got ${String(err)}`);
      assert.ok(err instanceof Error);
      assert.equal(err.message, message);
      assert.equal(err.line, position.line);
      assert.equal(err.column, position.column);
      assert.equal(err.unsupported, position.unsupported ?? false);
      return true;
    },
  );
}

describe('query parser: clauses', () => {
  test('SELECT * FROM devices', () => {
    assert.deepEqual(parseQuery('SELECT * FROM devices'), { from: 'devices', select: undefined, top: undefined, where: undefined, groupBy: [] });
  });

  test('keywords are case-insensitive, property names keep their case', () => {
    const query = parseQuery("select * FROM Devices.MODULES wHeRe Tags.Region = 'US' and NOT properties.reported.X = 1");
    assert.equal(query.from, 'devices.modules');
    assert.deepEqual(query.where, {
      kind: 'and',
      left: { kind: 'compare', operator: '=', left: path('Tags', 'Region'), right: lit('US') },
      right: { kind: 'not', operand: { kind: 'compare', operator: '=', left: path('properties', 'reported', 'X'), right: lit(1) } },
    });
  });

  test('TOP n', () => {
    assert.equal(parseQuery('SELECT TOP 5 * FROM devices').top, 5);
    assert.equal(parseQuery('select top 0 deviceId from devices').top, 0);
  });

  test('projections are named by their last path segment or alias', () => {
    const query = parseQuery("SELECT deviceId, tags.location.region, properties.reported.fw AS firmware, tags['odd key'] FROM devices");
    assert.deepEqual(query.select, [
      { kind: 'path', path: path('deviceId'), name: 'deviceId' },
      { kind: 'path', path: path('tags', 'location', 'region'), name: 'region' },
      { kind: 'path', path: path('properties', 'reported', 'fw'), name: 'firmware' },
      { kind: 'path', path: path('tags', 'odd key'), name: 'odd key' },
    ]);
  });

  test(`COUNT() defaults to ${DEFAULT_COUNT_NAME}, or takes the alias`, () => {
    assert.deepEqual(parseQuery('SELECT COUNT() FROM devices').select, [{ kind: 'count', name: 'numberOfDevices' }]);
    assert.deepEqual(parseQuery('SELECT count() AS total FROM devices').select, [{ kind: 'count', name: 'total' }]);
  });

  test('GROUP BY one or more paths', () => {
    const query = parseQuery('SELECT tags.a, tags.b AS bee, COUNT() AS n FROM devices GROUP BY tags.a, tags.b');
    assert.deepEqual(query.groupBy, [path('tags', 'a'), path('tags', 'b')]);
    assert.deepEqual(query.select, [
      { kind: 'path', path: path('tags', 'a'), name: 'a' },
      { kind: 'path', path: path('tags', 'b'), name: 'bee' },
      { kind: 'count', name: 'n' },
    ]);
  });

  test('the devices. qualifier is stripped everywhere', () => {
    const query = parseQuery("SELECT devices.deviceId, COUNT() FROM devices WHERE devices.tags.x = 1 GROUP BY devices.deviceId");
    assert.deepEqual(query.select?.[0], { kind: 'path', path: path('deviceId'), name: 'deviceId' });
    assert.deepEqual(query.where, { kind: 'compare', operator: '=', left: path('tags', 'x'), right: lit(1) });
    assert.deepEqual(query.groupBy, [path('deviceId')]);
  });

  test('querying module twins strips devices.modules. and devices.', () => {
    const query = parseQuery("SELECT * FROM devices.modules WHERE devices.modules.moduleId = 'm1' AND devices.deviceId = 'd1'");
    assert.deepEqual(query.where, {
      kind: 'and',
      left: { kind: 'compare', operator: '=', left: path('moduleId'), right: lit('m1') },
      right: { kind: 'compare', operator: '=', left: path('deviceId'), right: lit('d1') },
    });
  });

  test('a bare devices path is a property name, not a qualifier', () => {
    assert.deepEqual(where('devices = 1'), { kind: 'compare', operator: '=', left: path('devices'), right: lit(1) });
  });

  test('bracket keys and array indexes in paths', () => {
    assert.deepEqual(where(`tags['a.b']["c d"].list[2] = 1`), { kind: 'compare', operator: '=', left: path('tags', 'a.b', 'c d', 'list', 2), right: lit(1) });
  });

  test('$ in property names', () => {
    assert.deepEqual(where('properties.reported.$version > 3'), {
      kind: 'compare', operator: '>', left: path('properties', 'reported', '$version'), right: lit(3),
    });
  });

  test('keywords are fine as property names after a dot', () => {
    assert.deepEqual(where('tags.select = 1'), { kind: 'compare', operator: '=', left: path('tags', 'select'), right: lit(1) });
  });
});

describe('query parser: expressions', () => {
  test('every comparison operator; <> means !=', () => {
    for (const [text, operator] of [['=', '='], ['!=', '!='], ['<>', '!='], ['<', '<'], ['>', '>'], ['<=', '<='], ['>=', '>=']]) {
      assert.deepEqual(where(`a ${text} 1`), { kind: 'compare', operator, left: path('a'), right: lit(1) }, text);
    }
  });

  test('AND binds tighter than OR', () => {
    assert.deepEqual(where('a = 1 OR b = 2 AND c = 3'), {
      kind: 'or',
      left: { kind: 'compare', operator: '=', left: path('a'), right: lit(1) },
      right: {
        kind: 'and',
        left: { kind: 'compare', operator: '=', left: path('b'), right: lit(2) },
        right: { kind: 'compare', operator: '=', left: path('c'), right: lit(3) },
      },
    });
  });

  test('parentheses override precedence', () => {
    const condition = where('(a OR b) AND c');
    assert.deepEqual(condition, { kind: 'and', left: { kind: 'or', left: path('a'), right: path('b') }, right: path('c') });
  });

  test('NOT applies to the whole comparison and nests', () => {
    assert.deepEqual(where('NOT NOT a = 1'), {
      kind: 'not',
      operand: { kind: 'not', operand: { kind: 'compare', operator: '=', left: path('a'), right: lit(1) } },
    });
  });

  test('* / % bind tighter than + -, and both are left-associative', () => {
    assert.deepEqual(where('a + b * c - d % 2 = 7'), {
      kind: 'compare',
      operator: '=',
      left: {
        kind: 'arithmetic',
        operator: '-',
        left: { kind: 'arithmetic', operator: '+', left: path('a'), right: { kind: 'arithmetic', operator: '*', left: path('b'), right: path('c') } },
        right: { kind: 'arithmetic', operator: '%', left: path('d'), right: lit(2) },
      },
      right: lit(7),
    });
    assert.deepEqual(where('a / b / c = 1'), {
      kind: 'compare',
      operator: '=',
      left: { kind: 'arithmetic', operator: '/', left: { kind: 'arithmetic', operator: '/', left: path('a'), right: path('b') }, right: path('c') },
      right: lit(1),
    });
  });

  test('unary minus folds into number literals, negates anything else', () => {
    assert.deepEqual(where('a = -3'), { kind: 'compare', operator: '=', left: path('a'), right: lit(-3) });
    assert.deepEqual(where('-a = 3'), { kind: 'compare', operator: '=', left: { kind: 'negate', operand: path('a') }, right: lit(3) });
    assert.deepEqual(where('a - -3 = 0'), {
      kind: 'compare', operator: '=', left: { kind: 'arithmetic', operator: '-', left: path('a'), right: lit(-3) }, right: lit(0),
    });
  });

  const literals: Array<[string, string | number | boolean | null]> = [
    ["'single'", 'single'],
    ['"double"', 'double'],
    ["'it\\'s'", "it's"],
    ['"say \\"hi\\""', 'say "hi"'],
    ["'back\\\\slash'", 'back\\slash'],
    ["'\\u0041\\t'", 'A\t'],
    ["''", ''],
    ['"it\'s"', "it's"],
    ['42', 42],
    ['1.5', 1.5],
    ['2e3', 2000],
    ['1.5E-2', 0.015],
    ['0x1F', 31],
    ['-0.25', -0.25],
    ['true', true],
    ['FALSE', false],
    ['Null', null],
  ];
  for (const [text, value] of literals) {
    test(`literal ${text}`, () => assert.deepEqual(where(`a = ${text}`), { kind: 'compare', operator: '=', left: path('a'), right: lit(value) }));
  }

  test('IN, NIN and NOT IN take constant lists', () => {
    assert.deepEqual(where("a IN ['x', 2, -1, true, null]"), { kind: 'in', negated: false, operand: path('a'), values: ['x', 2, -1, true, null] });
    assert.deepEqual(where("a NIN ['x']"), { kind: 'in', negated: true, operand: path('a'), values: ['x'] });
    assert.deepEqual(where("a not in ['x']"), { kind: 'in', negated: true, operand: path('a'), values: ['x'] });
    assert.deepEqual(where('a IN []'), { kind: 'in', negated: false, operand: path('a'), values: [] });
  });

  test('functions, in either spelling and any case', () => {
    assert.deepEqual(where('is_defined(a)'), { kind: 'call', name: 'IS_DEFINED', args: [path('a')] });
    assert.deepEqual(where("STARTSWITH(a, 'x')"), { kind: 'call', name: 'STARTS_WITH', args: [path('a'), lit('x')] });
    assert.deepEqual(where("starts_with(a, 'x')"), { kind: 'call', name: 'STARTS_WITH', args: [path('a'), lit('x')] });
    assert.deepEqual(where("EndsWith(a, 'x')"), { kind: 'call', name: 'ENDS_WITH', args: [path('a'), lit('x')] });
    assert.deepEqual(where("ENDS_WITH(a, 'x')"), { kind: 'call', name: 'ENDS_WITH', args: [path('a'), lit('x')] });
    assert.deepEqual(where('ARRAY_CONTAINS(tags.list, 3)'), { kind: 'call', name: 'ARRAY_CONTAINS', args: [path('tags', 'list'), lit(3)] });
    for (const name of ['IS_NULL', 'IS_STRING', 'IS_NUMBER', 'IS_BOOL', 'IS_OBJECT', 'IS_ARRAY', 'IS_PRIMITIVE']) {
      assert.deepEqual(where(`${name}(a)`), { kind: 'call', name, args: [path('a')] });
    }
  });

  test('queries from the Azure docs parse', () => {
    for (const text of [
      "SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.connectivity.type = 'cellular'",
      'SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status',
      "SELECT * FROM devices\n  WHERE tags.location.region = 'US'\n    AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60",
      "SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired', 'wifi']",
      'SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)',
      'SELECT COUNT() as totalNumberOfDevices FROM devices',
      "SELECT DeviceId, LastActivityTime FROM devices WHERE status = 'enabled' AND connectionState = 'Disconnected'",
      "SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' AND deviceId IN ['device1', 'device2']",
      "select * from devices.modules where devices.deviceId = 'myDevice1'",
    ]) {
      assert.doesNotThrow(() => parseQuery(text), text);
    }
  });
});

describe('query parser: errors', () => {
  test('misspelt FROM', () => rejects('SELECT * FORM devices', "Syntax error at line 1, column 10 near 'FORM': expected FROM", { line: 1, column: 10 }));

  test('positions count lines and columns from 1', () => {
    rejects(
      "SELECT *\nFROM devices\n  WHERE tags.x = = 1",
      "Syntax error at line 3, column 18 near '=': expected a value, a property path or a function call",
      { line: 3, column: 18 },
    );
  });

  test('empty query', () => rejects('', 'Syntax error at line 1, column 1 near end of query: expected SELECT', { line: 1, column: 1 }));

  test('condition missing at the end', () => {
    rejects('SELECT * FROM devices WHERE', 'Syntax error at line 1, column 28 near end of query: expected a value, a property path or a function call', { line: 1, column: 28 });
  });

  test('missing comma in the select list', () => {
    rejects('SELECT deviceId tags FROM devices', "Syntax error at line 1, column 17 near 'tags': expected ',' or FROM", { line: 1, column: 17 });
  });

  test('unknown collection', () => {
    rejects('SELECT * FROM twins', "Syntax error at line 1, column 15 near 'twins': expected devices or devices.modules", { line: 1, column: 15 });
  });

  test('trailing garbage', () => {
    rejects("SELECT * FROM devices WHERE a = 1 b", "Syntax error at line 1, column 35 near 'b': expected GROUP BY or end of query", { line: 1, column: 35 });
    rejects('SELECT * FROM devices devices', "Syntax error at line 1, column 23 near 'devices': expected WHERE, GROUP BY or end of query", { line: 1, column: 23 });
  });

  test('unterminated string', () => {
    rejects("SELECT * FROM devices WHERE tags.x = 'abc", "Syntax error at line 1, column 38 near ''abc': unterminated string", { line: 1, column: 38 });
  });

  test('invalid escape', () => {
    rejects("SELECT * FROM devices WHERE a = 'x\\qy'", "Syntax error at line 1, column 35 near '\\q': invalid escape sequence in string", { line: 1, column: 35 });
  });

  test('unexpected character', () => {
    rejects('SELECT * FROM devices WHERE a # 1', "Syntax error at line 1, column 31 near '#': unexpected character", { line: 1, column: 31 });
  });

  test('malformed number', () => {
    rejects('SELECT * FROM devices WHERE a = 12abc', "Syntax error at line 1, column 33 near '12abc': malformed number", { line: 1, column: 33 });
  });

  test('unclosed parenthesis', () => {
    rejects('SELECT * FROM devices WHERE (a = 1', "Syntax error at line 1, column 35 near end of query: expected ')'", { line: 1, column: 35 });
  });

  test('TOP needs a whole number', () => {
    rejects('SELECT TOP x * FROM devices', "Syntax error at line 1, column 12 near 'x': expected a whole number after TOP", { line: 1, column: 12 });
    rejects('SELECT TOP 1.5 * FROM devices', "Syntax error at line 1, column 12 near '1.5': expected a whole number after TOP", { line: 1, column: 12 });
  });

  test('unknown function and wrong argument count', () => {
    rejects('SELECT * FROM devices WHERE FOO(a)', "Syntax error at line 1, column 29 near 'FOO': unknown function 'FOO'", { line: 1, column: 29 });
    rejects('SELECT * FROM devices WHERE IS_DEFINED(a, b)', "Syntax error at line 1, column 29 near 'IS_DEFINED': IS_DEFINED takes 1 argument, got 2", { line: 1, column: 29 });
    rejects("SELECT * FROM devices WHERE STARTSWITH(a)", "Syntax error at line 1, column 29 near 'STARTSWITH': STARTS_WITH takes 2 arguments, got 1", { line: 1, column: 29 });
  });

  test('IN lists hold constants only', () => {
    rejects("SELECT * FROM devices WHERE a IN ['x', b]", "Syntax error at line 1, column 40 near 'b': expected a constant in the list", { line: 1, column: 40 });
    rejects("SELECT * FROM devices WHERE a IN 'x'", "Syntax error at line 1, column 34 near ''x'': expected '['", { line: 1, column: 34 });
  });

  test('COUNT() only in the select list', () => {
    rejects('SELECT * FROM devices WHERE COUNT() > 1', "Syntax error at line 1, column 29 near 'COUNT': COUNT() is only allowed in the select list", { line: 1, column: 29 });
  });

  test('duplicate result names', () => {
    rejects(
      'SELECT tags.a.x, properties.reported.x FROM devices',
      "Syntax error at line 1, column 18 near 'properties': duplicate result name 'x' (use AS to rename)",
      { line: 1, column: 18 },
    );
  });

  test('grouping rules', () => {
    rejects('SELECT deviceId, COUNT() FROM devices', "Syntax error at line 1, column 8 near 'deviceId': a property path cannot be selected next to COUNT() without GROUP BY", { line: 1, column: 8 });
    rejects('SELECT deviceId, COUNT() FROM devices GROUP BY status', "Syntax error at line 1, column 8 near 'deviceId': a selected property path must appear in GROUP BY", { line: 1, column: 8 });
    rejects('SELECT * FROM devices GROUP BY status', "Syntax error at line 1, column 8 near '*': SELECT * cannot be used with GROUP BY", { line: 1, column: 8 });
  });

  test('reserved words cannot start a path', () => {
    rejects('SELECT FROM devices', "Syntax error at line 1, column 8 near 'FROM': expected '*', a property path or COUNT()", { line: 1, column: 8 });
  });

  test('queries longer than 8192 characters', () => {
    const text = `SELECT * FROM devices WHERE tags.x IN [${"'aaaaaaaaaa', ".repeat(600)}'z']`;
    assert.ok(text.length > MAX_QUERY_LENGTH);
    assert.equal(MAX_QUERY_LENGTH, 8192);
    assert.throws(() => parseQuery(text), (err: unknown) => {
      assert.ok(err instanceof QuerySyntaxError);
      assert.equal(err.line, 1);
      assert.equal(err.column, 8193);
      assert.match(err.message, new RegExp(`^Syntax error at line 1, column 8193 near '.*': the query is ${text.length} characters long; the maximum is 8192$`));
      return true;
    });
    assert.doesNotThrow(() => parseQuery(`SELECT * FROM devices WHERE a = '${'x'.repeat(MAX_QUERY_LENGTH - 34)}'`));
  });
});

describe('query parser: valid but unsupported constructs', () => {
  const cases: Array<[string, string, number]> = [
    ['SELECT * FROM devices ORDER BY deviceId', "near 'ORDER': ORDER BY is not supported", 23],
    ["SELECT * FROM devices WHERE a = 1 ORDER BY a", "near 'ORDER': ORDER BY is not supported", 35],
    ['SELECT * FROM devices JOIN devices.modules', "near 'JOIN': JOIN is not supported", 23],
    ['SELECT * FROM devices.jobs', "near 'jobs': querying devices.jobs is not supported", 23],
    ['SELECT * FROM (SELECT * FROM devices)', "near '(': subqueries are not supported", 15],
    ["SELECT * FROM devices WHERE (SELECT COUNT() FROM devices) > 1", "near 'SELECT': subqueries are not supported", 30],
    ['SELECT AVG(properties.reported.t) FROM devices', "near 'AVG': AVG() is not supported", 8],
    ["SELECT * FROM devices WHERE LOWER(deviceId) = 'x'", "near 'LOWER': LOWER() is not supported in twin queries", 29],
  ];
  for (const [text, tail, column] of cases) {
    test(text, () => rejects(text, `Syntax error at line 1, column ${column} ${tail}`, { line: 1, column, unsupported: true }));
  }
});
