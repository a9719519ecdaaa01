// `npm run bench -- twin-query [--devices N] [--runs N]`: the twin query engine on PostgreSQL over N devices (with
// their modules and twins, test/support/twin-corpus.ts), each query answered in full (pages of 100) by the scan in
// the hub and by the compiled SQL (PostgresTwinQueryIndex). LAZULI_TEST_POSTGRES_URL picks the server.
import { parseArgs } from 'node:util';
import { formatTable } from '../src/app/cli/table.js';
import { TwinQueryService, type QueryPage } from '../src/core/twins/twin-query-service.js';
import { TwinService } from '../src/core/twins/twin-service.js';
import { DEFAULT_TWIN_LIMITS } from '../src/domain/twin-patch.js';
import { LocalBus } from '../src/fabric/local/local-bus.js';
import { PostgresRegistryStore } from '../src/storage/postgres/postgres-registry-store.js';
import { PostgresTwinQueryIndex } from '../src/storage/postgres/postgres-twin-query-index.js';
import { PostgresTwinStore } from '../src/storage/postgres/postgres-twin-store.js';
import { testSchema } from '../test/support/postgres.js';
import { corpusConnectionInfo, loadCorpus, makeCorpus } from '../test/support/twin-corpus.js';
import { percentile } from './support/stats.js';

const QUERIES = [
  'SELECT * FROM devices WHERE tags.batch = 42',
  "SELECT deviceId FROM devices WHERE properties.reported.fw = '2.0' AND tags.location.region = 'EU'",
  'SELECT COUNT() FROM devices WHERE tags.batch = 42',
  "SELECT * FROM devices.modules WHERE properties.reported.state = 'on' AND tags.role = 'gateway'",
  'SELECT * FROM devices WHERE tags.floor > 2',
];

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { devices: { type: 'string', default: '20000' }, runs: { type: 'string', default: '5' } } });
  const devices = Number(values.devices);
  const runs = Number(values.runs);
  if (!Number.isSafeInteger(devices) || devices < 1) throw new Error(`--devices must be a whole number above 0, not "${values.devices}"`);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number above 0, not "${values.runs}"`);

  const schema = testSchema();
  const db = await schema.open({ maxConnections: 16 });
  try {
    const registry = new PostgresRegistryStore(db);
    const twins = new PostgresTwinStore(db);
    const corpus = makeCorpus({ devices });
    const loading = performance.now();
    await loadCorpus(corpus, registry, twins, 16);
    await db.query('ANALYZE');
    console.log(
      `twin-query: ${corpus.devices.length} devices, ${corpus.modules.length} modules, ${corpus.twins.length} twins loaded in ` +
        `${((performance.now() - loading) / 1000).toFixed(1)} s; ${runs} runs per query, node ${process.version}`,
    );
    const service = new TwinService(twins, registry, corpusConnectionInfo, new LocalBus(), DEFAULT_TWIN_LIMITS, Date.now);
    const scan = new TwinQueryService(service, registry);
    const compiled = new TwinQueryService(service, registry, new PostgresTwinQueryIndex(db));

    const rows: string[][] = [];
    for (const text of QUERIES) {
      const expected = await answer(scan, text);
      const actual = await answer(compiled, text);
      if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`the compiled query answered differently: ${text}`);
      const scanMs = await timed(runs, () => answer(scan, text));
      const compiledMs = await timed(runs, () => answer(compiled, text));
      const items = expected.reduce((n, page) => n + page.items.length, 0);
      rows.push([text, String(items), ms(percentile(scanMs, 50)), ms(percentile(compiledMs, 50)), `${(percentile(scanMs, 50) / percentile(compiledMs, 50)).toFixed(0)}x`]);
    }
    console.log(formatTable(['query', 'items', 'scan in node p50 ms', 'compiled SQL p50 ms', 'speed-up'], rows));
  } finally {
    await db.close();
    await schema.drop();
  }
}

/** Every page, as a client following continuations reads them. */
async function answer(service: TwinQueryService, text: string): Promise<QueryPage[]> {
  const pages: QueryPage[] = [];
  let continuation: string | undefined;
  do {
    const page = await service.query(text, 100, continuation);
    pages.push(page);
    continuation = page.continuation;
  } while (continuation !== undefined);
  return pages;
}

async function timed(runs: number, body: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await body();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}

function ms(value: number): string {
  return value.toFixed(1);
}
