// Twin queries compiled to SQL (PostgresTwinQueryIndex) against the in-memory evaluator on the same fleet: the
// PostgreSQL-backed TwinQueryService must answer every query, page by page, exactly as the embedded one (SQLite
// stores, a scan in the hub), and the candidates the index returns must include every match — and be exactly the
// matches for conditions the compiler can express fully, so a compiler that gave up would fail here.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TwinQueryService, type QueryPage } from '../../src/core/twins/twin-query-service.js';
import { TwinService } from '../../src/core/twins/twin-service.js';
import { parseQuery, runQuery, type Query } from '../../src/domain/query/index.js';
import { DEFAULT_TWIN_LIMITS } from '../../src/domain/twin-patch.js';
import { LocalBus } from '../../src/fabric/local/local-bus.js';
import type { TwinQueryCursor } from '../../src/ports/twin-query-index.js';
import type { PostgresDatabase } from '../../src/storage/postgres/database.js';
import { PostgresRegistryStore } from '../../src/storage/postgres/postgres-registry-store.js';
import { PostgresTwinQueryIndex } from '../../src/storage/postgres/postgres-twin-query-index.js';
import { PostgresTwinStore } from '../../src/storage/postgres/postgres-twin-store.js';
import { candidatesStatement } from '../../src/storage/postgres/twin-query-statements.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SqliteRegistryStore } from '../../src/storage/sqlite/sqlite-registry-store.js';
import { SqliteTwinStore } from '../../src/storage/sqlite/sqlite-twin-store.js';
import { testSchema, withPostgres, type TestSchema } from '../support/postgres.js';
import { corpusConnectionInfo, loadCorpus, makeCorpus } from '../support/twin-corpus.js';

/** `exact`: the compiler expresses the whole condition, so the candidates are exactly the matches. */
type Case = [text: string, exact?: 'exact'];

const CONDITIONS: Case[] = [
  // equality and order, across types
  ["tags.location.region = 'US'", 'exact'],
  ["tags.location.region != 'US'", 'exact'],
  ["tags.location.region <> 'EU'", 'exact'],
  ["tags.location = 'US'", 'exact'],
  ['tags.location = null', 'exact'],
  ['tags.floor = 3', 'exact'],
  ["tags.floor = '3'", 'exact'],
  ['tags.floor != 3', 'exact'],
  ['tags.floor > 2', 'exact'],
  ['tags.floor >= 2.5', 'exact'],
  ['tags.floor < 3', 'exact'],
  ['tags.floor <= -1', 'exact'],
  ["tags.floor < '2'", 'exact'],
  ["tags.floor >= '10'", 'exact'],
  ['tags.floor = true', 'exact'],
  ['tags.floor > false', 'exact'],
  ['tags.floor = null', 'exact'],
  ['tags.floor != null', 'exact'],
  ['tags.floor <= null', 'exact'],
  ['tags.floor < null', 'exact'],
  ['3 = tags.floor', 'exact'],
  ['2 < tags.floor', 'exact'],
  ["tags.name > 'b'"],
  ["tags.name <= 'beta'"],
  ["tags.name < '\\uE000'"],
  ["tags.name = 'alpha'", 'exact'],
  ["tags.name = 'a\\u0000b'"],
  ["tags.name = 'x\\ud800'"],
  ["tags.name = '\\ufffd'"],
  ["tags.name != 'a\\u0000b'"],
  ["tags.name = '😀smile'", 'exact'],
  ["tags.name = '\\ud800\\udc00y'", 'exact'],
  ["tags.name = 'it\\'s'", 'exact'],
  ["tags.name = 'say \"hi\"'", 'exact'],
  ["tags.name = 'back\\\\slash'", 'exact'],
  ["tags.name = ''", 'exact'],
  ['tags.flag = true', 'exact'],
  ['tags.flag', 'exact'],
  ['NOT tags.flag', 'exact'],
  ["tags.flag = 'true'", 'exact'],
  ['tags = null', 'exact'],
  ['tags', 'exact'],
  // logic
  ['NOT (tags.floor = 3)', 'exact'],
  ["NOT (tags.floor > 2 AND tags.location.region = 'EU')", 'exact'],
  ["tags.floor = 3 OR properties.reported.fw = '2.0'", 'exact'],
  ['NOT (tags.floor = 3 OR IS_DEFINED(tags.flag))', 'exact'],
  ['NOT NOT (tags.floor < 3)', 'exact'],
  ["tags.floor > 1 AND NOT (tags.name = 'alpha' OR tags.name = 'beta')", 'exact'],
  ['true', 'exact'],
  ['false', 'exact'],
  ['1 + 1 = 2 AND tags.floor = 3', 'exact'],
  ["NOT (tags.floor = 3 AND connectionState = 'Connected')"],
  // IN, NIN, NOT IN
  ["tags.location.region IN ['US', 'EU']", 'exact'],
  ["tags.floor IN [1, '3', null, true]", 'exact'],
  ['tags.floor NIN [1, 2]', 'exact'],
  ["tags.floor NOT IN ['3']", 'exact'],
  ['NOT (tags.floor IN [3])', 'exact'],
  ['tags.floor IN []', 'exact'],
  ['tags.floor NIN []', 'exact'],
  ["tags.name IN ['a\\u0000b', 'alpha']"],
  ["tags.name NIN ['a\\u0000b', 'alpha']"],
  ["deviceId IN ['Dev0001', 'edge.0002', 'x-0003', 'dev0004', 'dev0001', 'nope']", 'exact'],
  ['tags.batch = 42', 'exact'],
  // arithmetic: never compiled, only what it implies of the operand types
  ['tags.n + 1 > 5'],
  ['tags.n * 2 = 10'],
  ['tags.n % 3 = 1'],
  ['tags.n / 0 = 1'],
  ['-tags.n < -3'],
  ['(tags.n - 1) * 2 >= 4'],
  ['NOT (tags.n + 1 > 5)'],
  ["tags.n + 1 = 'x'", 'exact'],
  // functions
  ['IS_DEFINED(tags.flag)', 'exact'],
  ['NOT IS_DEFINED(tags.flag)', 'exact'],
  ['IS_DEFINED(tags.location.region)', 'exact'],
  ['NOT IS_DEFINED(tags.location.city)', 'exact'],
  ['IS_NULL(tags.floor)', 'exact'],
  ['NOT IS_NULL(tags.floor)', 'exact'],
  ['IS_STRING(tags.floor)', 'exact'],
  ['IS_NUMBER(tags.floor)', 'exact'],
  ['NOT IS_NUMBER(tags.floor)', 'exact'],
  ['IS_BOOL(tags.flag)', 'exact'],
  ['IS_OBJECT(tags.location)', 'exact'],
  ['IS_ARRAY(tags.list)', 'exact'],
  ['NOT IS_ARRAY(tags.list)', 'exact'],
  ['IS_PRIMITIVE(tags.location)', 'exact'],
  ['NOT IS_PRIMITIVE(tags.floor)', 'exact'],
  ["STARTS_WITH(tags.name, 'al')", 'exact'],
  ["STARTSWITH(tags.name, 'be')", 'exact'],
  ["ENDS_WITH(tags.name, 'ta')", 'exact'],
  ["NOT STARTS_WITH(tags.name, 'a')", 'exact'],
  ["NOT ENDS_WITH(tags.name, 'mile')", 'exact'],
  ["STARTS_WITH(tags.name, 'x\\ud800')"],
  ["ENDS_WITH(tags.name, '\\udc00y')"],
  ['STARTS_WITH(tags.name, 1)', 'exact'],
  ["STARTS_WITH('alphabet', tags.name)"],
  ["ENDS_WITH(deviceId, '7')", 'exact'],
  ["ARRAY_CONTAINS(tags.list, 'a')", 'exact'],
  ['ARRAY_CONTAINS(tags.list, 1)', 'exact'],
  ['ARRAY_CONTAINS(tags.list, null)', 'exact'],
  ["NOT ARRAY_CONTAINS(tags.list, 'a')", 'exact'],
  ['ARRAY_CONTAINS(tags.list, tags.name)'],
  ['NOT ARRAY_CONTAINS(tags.list, tags.flag)'],
  ['ARRAY_CONTAINS(tags.list, tags.n)'],
  ['ARRAY_CONTAINS(properties.reported.arr, 1)', 'exact'],
  ["ARRAY_CONTAINS(tags.list[0], 'a')", 'exact'],
  // paths into arrays and odd keys
  ["tags.list[0] = 'a'", 'exact'],
  ['tags.list[1] > 1', 'exact'],
  ['tags.list[0].k = 1', 'exact'],
  ["tags.list[0][0] = 'a'", 'exact'],
  ["tags.list[5] = 'x'", 'exact'],
  ['IS_DEFINED(tags.list[3])', 'exact'],
  ["tags.list['0'] = 'a'", 'exact'],
  ["tags.weird['a.b'] = 1", 'exact'],
  ["tags.weird[\"it's\"] = 2", 'exact'],
  ["tags.weird['0'] = 'zero'", 'exact'],
  ["tags.weird[''] = 'empty'", 'exact'],
  ["tags.weird['x\"y'] = true", 'exact'],
  ["tags.weird.ü = 'u'", 'exact'],
  ["tags.weird[0] = 'zero'", 'exact'],
  ["tags['a\\u0000'] = 1"],
  ['tags.nested.deep.deeper >= 5', 'exact'],
  ['tags.nested.deep = 1', 'exact'],
  // registry fields, versions, and what only the hub knows
  ["deviceId = 'x-0007'", 'exact'],
  ["deviceId > 'dev0100'", 'exact'],
  ["deviceId < 'edge.0100' AND deviceId >= 'Dev'", 'exact'],
  ["moduleId = 'm1'", 'exact'],
  ["status = 'disabled'", 'exact'],
  ['statusReason = null', 'exact'],
  ["statusReason != 'stolen'", 'exact'],
  ["statusUpdateTime >= '2024-02-15'", 'exact'],
  ['capabilities.iotEdge = true', 'exact'],
  ['deviceScope = null', 'exact'],
  ["STARTS_WITH(deviceScope, 'ms-azure')", 'exact'],
  ["authenticationType = 'selfSigned'", 'exact'],
  ['x509Thumbprint.primaryThumbprint = null', 'exact'],
  ['IS_STRING(x509Thumbprint.primaryThumbprint)', 'exact'],
  ["ARRAY_CONTAINS(parentScopes, 'ms-azure-iot-edge://parent-1')"],
  ["modelId = ''", 'exact'],
  ['version > 2', 'exact'],
  ['properties.desired.$version >= 2', 'exact'],
  ['properties.reported.$version = 1', 'exact'],
  ["properties.reported.$metadata.$lastUpdated > '2000'"],
  ["etag != 'x'"],
  ["connectionState = 'Connected'"],
  ['cloudToDeviceMessageCount > 2'],
  ["lastActivityTime > '2024-01-15'"],
  ['connectionState = 3', 'exact'],
  ['IS_STRING(connectionState)'],
  ["tags.location.region = 'US' AND connectionState = 'Connected'"],
  ['IS_OBJECT(properties.desired)', 'exact'],
  ['properties.other = 1', 'exact'],
  // desired and reported
  ["properties.desired.mode = 'eco'", 'exact'],
  ['properties.desired.mode = null', 'exact'],
  ['properties.reported.temp > 20.5', 'exact'],
  ['properties.reported.temp = 1e21', 'exact'],
  ['properties.reported.temp < 0.0001', 'exact'],
  ['properties.reported.temp = 5e-324', 'exact'],
  ["properties.reported.fw >= '10'", 'exact'],
  ['properties.reported.ok = false', 'exact'],
  ['properties.desired.cfg.a = properties.reported.arr[0]'],
  ['tags.floor = properties.desired.interval'],
  ['tags.floor != tags.n'],
  // conditions as values
  ['(tags.floor = 3) = true', 'exact'],
  ['IS_DEFINED(tags.flag) = false', 'exact'],
  ['(tags.floor > 1) != (tags.flag = true)'],
  ['(tags.floor = 3) IN [false]', 'exact'],
  // collection qualifiers
  ['devices.tags.floor = 3', 'exact'],
];

const MODULE_CONDITIONS: Case[] = [
  ["properties.reported.state = 'on'", 'exact'],
  ["moduleId = 'm1'", 'exact'],
  ["devices.modules.moduleId = 'm2'", 'exact'],
  ["moduleId > 'm1' AND status = 'enabled'", 'exact'],
  ["tags.role = 'sensor'", 'exact'],
  ["tags.role != 'sensor'", 'exact'],
  ['NOT IS_DEFINED(tags.role)', 'exact'],
  ["properties.desired.rate IN [2, '2']", 'exact'],
  ["deviceId IN ['Dev0001', 'edge.0002', 'x-0003', 'dev0004', 'Dev0005', 'edge.0006', 'x-0007']", 'exact'],
  ['capabilities.iotEdge = false', 'exact'],
  ["authenticationType = 'sas'", 'exact'],
  ["connectionState = 'Disconnected' AND tags.role = 7"],
];

const QUERIES: string[] = [
  'SELECT * FROM devices',
  'SELECT * FROM devices.modules',
  ...CONDITIONS.map(([c]) => `SELECT * FROM devices WHERE ${c}`),
  ...MODULE_CONDITIONS.map(([c]) => `SELECT * FROM devices.modules WHERE ${c}`),
  "SELECT COUNT() FROM devices WHERE tags.location.region = 'US'",
  'SELECT COUNT() AS total FROM devices.modules',
  'SELECT tags.location.region, COUNT() AS n FROM devices GROUP BY tags.location.region',
  'SELECT tags.floor, status, COUNT() FROM devices WHERE IS_DEFINED(tags.floor) GROUP BY tags.floor, status',
  'SELECT properties.reported.status, COUNT() FROM devices.modules GROUP BY properties.reported.status',
  'SELECT TOP 5 * FROM devices WHERE tags.floor > 1',
  "SELECT TOP 3 deviceId FROM devices.modules WHERE moduleId = 'm2'",
  'SELECT TOP 0 * FROM devices',
  'SELECT deviceId, tags.floor FROM devices WHERE tags.floor >= 2',
  'SELECT deviceId, moduleId, properties.reported.state AS state FROM devices.modules WHERE IS_DEFINED(properties.reported.state)',
  "SELECT tags.location.region AS r, tags.list[0] FROM devices WHERE tags.name = 'alpha'",
];

interface Fixture {
  memory: TwinQueryService;
  postgres: TwinQueryService;
  index: PostgresTwinQueryIndex;
  db: PostgresDatabase;
  /** Every twin view, as the in-memory service shows them. */
  views: Record<Query['from'], object[]>;
  close(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const corpus = makeCorpus({ devices: 300 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazuli-twin-query-'));
  const sqlite = openSqliteDatabase(path.join(dir, 'hub.db'));
  const sqliteRegistry = new SqliteRegistryStore(sqlite);
  const sqliteTwins = new SqliteTwinStore(sqlite);
  const schema: TestSchema = testSchema();
  const db = await schema.open();
  const pgRegistry = new PostgresRegistryStore(db);
  const pgTwins = new PostgresTwinStore(db);
  await loadCorpus(corpus, sqliteRegistry, sqliteTwins);
  await loadCorpus(corpus, pgRegistry, pgTwins, 8);
  await db.query('ANALYZE');
  const bus = new LocalBus();
  const twinService = (twins: SqliteTwinStore | PostgresTwinStore, registry: SqliteRegistryStore | PostgresRegistryStore) =>
    new TwinService(twins, registry, corpusConnectionInfo, bus, DEFAULT_TWIN_LIMITS, () => Date.parse('2024-06-01T00:00:00Z'));
  const index = new PostgresTwinQueryIndex(db);
  const memory = new TwinQueryService(twinService(sqliteTwins, sqliteRegistry), sqliteRegistry);
  const postgres = new TwinQueryService(twinService(pgTwins, pgRegistry), pgRegistry, index);
  const views = {
    devices: (await memory.query('SELECT * FROM devices', 1000)).items,
    'devices.modules': (await memory.query('SELECT * FROM devices.modules', 1000)).items,
  };
  assert.equal(views.devices.length, 300);
  return {
    memory,
    postgres,
    index,
    db,
    views,
    async close() {
      await sqliteTwins.close();
      await sqliteRegistry.close();
      fs.rmSync(dir, { recursive: true, force: true });
      await pgTwins.close();
      await db.close();
      await schema.drop();
    },
  };
}

async function pages(service: TwinQueryService, text: string, pageSize: number): Promise<QueryPage[]> {
  const all: QueryPage[] = [];
  let continuation: string | undefined;
  do {
    const page = await service.query(text, pageSize, continuation);
    all.push(page);
    continuation = page.continuation;
  } while (continuation !== undefined);
  return all;
}

function keyOf(view: object): string {
  const { deviceId, moduleId } = view as { deviceId: string; moduleId?: string };
  return `${deviceId}/${moduleId ?? ''}`;
}

/** Every candidate, in small pages so the cursor is exercised (also inside one device's modules). */
async function candidates(index: PostgresTwinQueryIndex, query: Query): Promise<string[]> {
  const keys: string[] = [];
  let after: TwinQueryCursor | undefined;
  for (;;) {
    const page = await index.candidates({ from: query.from, where: query.where, limit: 17, ...(after === undefined ? {} : { after }) });
    for (const c of page) keys.push(`${c.device.deviceId}/${c.module?.moduleId ?? ''}`);
    if (page.length < 17) return keys;
    const last = page[page.length - 1]!;
    after = { deviceId: last.device.deviceId, ...(last.module === undefined ? {} : { moduleId: last.module.moduleId }) };
  }
}

const binary = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

await withPostgres('twin queries compiled to SQL', () => {
  describe('twin queries compiled to SQL (PostgresTwinQueryIndex)', () => {
    let f: Fixture;
    before(async () => {
      f = await fixture();
    });
    after(async () => f?.close());

    test(`the PostgreSQL service answers ${QUERIES.length} queries exactly as the in-memory one, in one page and in pages of 7`, async () => {
      for (const text of QUERIES) {
        for (const size of [1000, 7]) {
          const expected = await pages(f.memory, text, size);
          const actual = await pages(f.postgres, text, size);
          assert.deepEqual(actual, expected, `${text} (pages of ${size})`);
        }
      }
    });

    test('the corpus makes the queries discriminating: most select some twins and leave others out', async () => {
      let selective = 0;
      for (const [condition] of CONDITIONS) {
        const n = (await f.memory.query(`SELECT * FROM devices WHERE ${condition}`, 1000)).items.length;
        if (n > 0 && n < 300) selective++;
      }
      assert.ok(selective >= CONDITIONS.length * 0.7, `${selective} of ${CONDITIONS.length} conditions select some but not all twins`);
    });

    test('candidates include every match, and are exactly the matches where the condition compiles fully', async () => {
      const cases = [...CONDITIONS.map((c) => ['devices', ...c] as const), ...MODULE_CONDITIONS.map((c) => ['devices.modules', ...c] as const)];
      let narrowed = 0;
      for (const [from, condition, exact] of cases) {
        const query = parseQuery(`SELECT * FROM ${from} WHERE ${condition}`);
        const matches = runQuery({ ...query, select: undefined, top: undefined }, f.views[query.from]).items.map(keyOf);
        const found = await candidates(f.index, query);
        assert.deepEqual([...found].sort(binary), found, `${condition}: candidates in binary (deviceId, moduleId) order`);
        assert.equal(new Set(found).size, found.length, `${condition}: no candidate twice`);
        const missing = matches.filter((m) => !found.includes(m));
        assert.deepEqual(missing, [], `${from} WHERE ${condition}: every match is a candidate`);
        if (exact) assert.deepEqual(found, matches, `${from} WHERE ${condition}: compiles fully, so the candidates are the matches`);
        if (found.length < f.views[query.from].length) narrowed++;
      }
      assert.ok(narrowed >= cases.length * 0.7, `${narrowed} of ${cases.length} conditions narrowed the candidates`);
    });

    test('a continuation names the last device of the page even when no later device matches', async () => {
      const ids = [f.views.devices[10], f.views.devices[20]].map((v) => (v as { deviceId: string }).deviceId);
      const text = `SELECT * FROM devices WHERE deviceId = '${ids[0]}' OR deviceId = '${ids[1]}'`;
      const expected = await pages(f.memory, text, 1);
      // Devices follow the second match, so its page has a continuation, and the page after it is empty.
      assert.deepEqual(expected.map((p) => p.items.length), [1, 1, 0]);
      assert.deepEqual(await pages(f.postgres, text, 1), expected);
    });
  });

  describe('the compiled SQL on the GIN indexes', () => {
    let schema: TestSchema;
    let db: PostgresDatabase;
    before(async () => {
      schema = testSchema();
      db = await schema.open();
      // 5000 devices with twins; a value of tags.batch or of properties.reported.fw is on 10 or 5 of them.
      await db.query(`INSERT INTO devices
        SELECT 'd' || lpad(i::text, 5, '0'), 'g', 1, 'enabled', NULL, '2024-01-01T00:00:00Z',
               '{"type":"none","symmetricKey":{"primaryKey":null,"secondaryKey":null},"x509Thumbprint":{"primaryThumbprint":null,"secondaryThumbprint":null}}',
               '{"iotEdge":false}', NULL, '[]'
        FROM generate_series(1, 5000) i`);
      await db.query(`INSERT INTO twins
        SELECT 'd' || lpad(i::text, 5, '0'), '', 1, tags::json, '{}', 1, '{}', reported::json, 1, '{}', tags, '{}', reported
        FROM (SELECT i, jsonb_build_object('batch', i % 500, 'region', (ARRAY['US', 'EU', 'APAC'])[1 + i % 3]) AS tags,
                     jsonb_build_object('fw', 'v' || (i % 1000)) AS reported
              FROM generate_series(1, 5000) i) rows`);
      await db.query('ANALYZE');
    });
    after(async () => {
      await db?.close();
      await schema?.drop();
    });

    for (const [condition, index, count] of [
      ['tags.batch = 42', 'twins_tags_query', 10],
      ["properties.reported.fw = 'v42'", 'twins_reported_query', 5],
      ["properties.reported.fw IN ['v1', 'v2'] AND tags.region = 'EU'", 'twins_reported_query', 3],
    ] as const) {
      test(`WHERE ${condition}: a bitmap scan of ${index}`, async () => {
        const query = parseQuery(`SELECT * FROM devices WHERE ${condition}`);
        // The statement the index runs once matches prove sparse: open-ended, in id order.
        const { text, values } = candidatesStatement({ from: query.from, where: query.where, limit: 101 });
        const plan = await db.transaction(async (tx) => {
          await tx.query('SET LOCAL enable_seqscan = off');
          const { rows } = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
        assert.match(plan, new RegExp(`Bitmap Index Scan on ${index}`), plan);
        const found = await new PostgresTwinQueryIndex(db).candidates({ from: query.from, where: query.where, limit: 1000 });
        assert.equal(found.length, count);
      });
    }
  });
});
