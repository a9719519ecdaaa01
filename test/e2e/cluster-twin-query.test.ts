// POST /devices/query on a hub whose state is in PostgreSQL: the query is compiled to SQL (PostgresTwinQueryIndex)
// and pages as on the embedded hub. The answers themselves are checked against the in-memory evaluator in
// test/contract/twin-query-index.postgres.test.ts; this proves the wiring in a running hub.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { HubProcess } from '../support/hub-process.js';
import { scaleOutMissing, scaleOutUnavailable, startCluster, type Cluster } from '../support/cluster.js';

const why = await scaleOutUnavailable();

describe('twin queries on a PostgreSQL-backed hub', { concurrency: false }, () => {
  if (why !== undefined) return scaleOutMissing(why);

  let cluster: Cluster;
  let node: HubProcess;
  const rest = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => cluster.rest(node, method, path, body, headers);

  before(async () => {
    cluster = await startCluster(1, 'twin-query');
    node = cluster.nodes[0]!;
    for (let i = 1; i <= 5; i++) {
      const id = `q-${i}`;
      assert.equal((await rest('PUT', `/devices/${id}`, { deviceId: id })).status, 200);
      if (i !== 3) assert.equal((await rest('PATCH', `/twins/${id}`, { tags: { fleet: 'pg', n: i } })).status, 200);
    }
  });

  after(async () => cluster?.destroy());

  test('a selective query pages with continuations; COUNT and NOT over an untouched twin', async () => {
    const ids: string[] = [];
    let continuation: string | undefined;
    do {
      const res = await rest('POST', '/devices/query', { query: "SELECT deviceId FROM devices WHERE tags.fleet = 'pg' AND tags.n >= 2" }, {
        'x-ms-max-item-count': '2',
        ...(continuation === undefined ? {} : { 'x-ms-continuation': continuation }),
      });
      assert.equal(res.status, 200, res.text);
      ids.push(...(res.json() as Array<{ deviceId: string }>).map((d) => d.deviceId));
      continuation = res.headers['x-ms-continuation'] as string | undefined;
    } while (continuation);
    assert.deepEqual(ids, ['q-2', 'q-4', 'q-5']);

    const count = await rest('POST', '/devices/query', { query: "SELECT COUNT() AS n FROM devices WHERE NOT IS_DEFINED(tags.fleet) AND STARTS_WITH(deviceId, 'q-')" });
    assert.equal(count.status, 200, count.text);
    assert.deepEqual(count.json(), [{ n: 1 }]);
  });
});
