// The twin query compiler's SQL text and parameters on cases where the form matters: containment for the GIN
// index, NOT compiled by swapping outcomes, values only ever as parameters, lossy strings, unknown values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseQuery } from '../../src/domain/query/index.js';
import { SqlParams } from '../../src/storage/postgres/sql-text.js';
import { compileWhere } from '../../src/storage/postgres/twin-query-sql.js';

function compile(condition: string, options: { twin?: boolean; from?: string } = {}): { text: string; values: unknown[] } {
  const query = parseQuery(`SELECT * FROM ${options.from ?? 'devices'} WHERE ${condition}`);
  const params = new SqlParams();
  const sql = compileWhere(query.where!, { modules: query.from === 'devices.modules', twin: options.twin ?? true }, params);
  return params.statement(sql);
}

describe('twin query compiler', () => {
  test('equality with a primitive is containment in the jsonb column, which the GIN index serves', () => {
    assert.deepEqual(compile("tags.location.region = 'US'"), { text: 't.tags_query @> $1::jsonb', values: ['{"location":{"region":"US"}}'] });
    assert.deepEqual(compile('properties.reported.ok = true'), { text: 't.reported_query @> $1::jsonb', values: ['{"ok":true}'] });
  });

  test('a target without a twins row has the empty twin: a condition on its tags folds to FALSE', () => {
    assert.deepEqual(compile("tags.location.region = 'US'", { twin: false }), { text: 'FALSE', values: [] });
    assert.deepEqual(compile('NOT IS_DEFINED(tags.x)', { twin: false }), { text: 'TRUE', values: [] });
    assert.deepEqual(compile('properties.desired.$version = 1', { twin: false }), { text: 'TRUE', values: [] });
  });

  test('NOT swaps the wanted outcome: a type-checked inequality, never SQL NOT over a guess', () => {
    const { text, values } = compile('NOT (tags.floor = 3)');
    assert.equal(text, "((t.tags_query ? $1::text AND jsonb_typeof((t.tags_query -> $1::text)) = 'number') AND (t.tags_query -> $1::text) <> $2::jsonb)");
    assert.deepEqual(values, ['floor', '3']);
    assert.doesNotMatch(compile("NOT (tags.floor = 3 AND connectionState = 'Connected')").text, /\bNOT\b/);
  });

  test('keys and literals are parameters, never SQL text', () => {
    const { text, values } = compile("tags['a\\'); DROP TABLE twins; --'] = 'b\\'; DROP TABLE twins; --' AND STARTS_WITH(tags.s, '%_\\'')");
    assert.doesNotMatch(text, /DROP|'b|%_/);
    assert.ok(values.includes(`{"a'); DROP TABLE twins; --":"b'; DROP TABLE twins; --"}`));
    assert.ok(values.includes("%_'"));
  });

  test('array elements are read with a strict jsonpath (a scalar is not its own element 0)', () => {
    assert.deepEqual(compile('tags.list[2] = 1'), {
      text: `jsonb_path_query_first((t.tags_query -> $1::text), $2::jsonpath, '{}', true) = $3::jsonb`,
      values: ['list', 'strict $[2]', '1'],
    });
  });

  test('a literal jsonb cannot hold exactly matches by its U+FFFD copy, and its negation only by type', () => {
    assert.deepEqual(compile("tags.name = 'a\\u0000b'").values, ['{"name":"a\\ufffdb"}']);
    const negated = compile("tags.name != 'a\\u0000b'");
    assert.doesNotMatch(negated.text, /<>/);
    assert.match(negated.text, /jsonb_typeof\(\(t\.tags_query -> \$1::text\)\) = 'string'/);
  });

  test('strings order under COLLATE "C", leaving strings with characters from U+E000 up to the evaluator', () => {
    const { text } = compile("tags.name < 'm'");
    assert.match(text, /#>> '\{\}'\) COLLATE "C" < \$2::text/);
    assert.match(text, /~ '\[\\uE000-\\U0010FFFF\]'/);
  });

  test('connection state is unknown: possible for a string, impossible for a number', () => {
    assert.equal(compile("connectionState = 'Connected'").text, 'TRUE');
    assert.equal(compile('connectionState = 3').text, 'FALSE');
    assert.equal(compile("tags.a = 1 AND connectionState = 'Connected'").text, 't.tags_query @> $1::jsonb');
  });

  test('arithmetic is left to the evaluator, but its operands must be numbers', () => {
    const { text } = compile('tags.n + 1 > 5');
    assert.equal(text, "(t.tags_query ? $1::text AND jsonb_typeof((t.tags_query -> $1::text)) = 'number')");
    assert.equal(compile("tags.n + 1 = 'five'").text, 'FALSE');
  });

  test('parameters of folded-away conditions are dropped and the rest renumbered', () => {
    assert.deepEqual(compile("(tags.a = 1 AND modelId = 'x') OR tags.b = 2"), { text: 't.tags_query @> $1::jsonb', values: ['{"b":2}'] });
  });

  test('module rows read the module identity and have no device-only fields', () => {
    assert.deepEqual(compile("moduleId = 'm1'", { from: 'devices.modules' }), { text: 'to_jsonb(m.module_id) = $1::jsonb', values: ['"m1"'] });
    assert.equal(compile("authenticationType = 'sas'", { from: 'devices.modules' }).text, "to_jsonb(m.authentication ->> 'type') = $1::jsonb");
    assert.equal(compile('capabilities.iotEdge = false', { from: 'devices.modules' }).text, 'FALSE');
  });

  test('conditions nested as values compile in linear time', () => {
    let condition = 'tags.a = 1';
    for (let i = 0; i < 400; i++) condition = `(${condition}) != (tags.b = ${i})`;
    const started = performance.now();
    const { text } = compile(condition);
    assert.ok(performance.now() - started < 2000, 'compiled at once');
    assert.ok(text.length < 200_000, `${text.length} characters of SQL`);
  });
});
