// The one serial suite that binds 443, 8883 and 5671: the official Azure SDKs against `lazuli start`.
// Each feature adds its scenarios module here rather than a new file, so only one hub ever needs those ports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import iothub from 'azure-iothub';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { startHubProcess, type HubProcess } from '../support/hub-process.js';
import { seededDataDir } from '../support/test-ca.js';
import { AZURE_SDK_START_ARGS, assertAzurePortsFree } from './azure-sdk-ports.js';
import { registryScenarios } from './registry.scenarios.js';
import { telemetryScenarios } from './telemetry.scenarios.js';
import { C2D_START_ARGS, c2dScenarios } from './c2d.scenarios.js';
import { twinScenarios } from './twins.scenarios.js';
import { methodScenarios } from './methods.scenarios.js';

const START_ARGS = [...AZURE_SDK_START_ARGS, ...C2D_START_ARGS];

export interface AzureSuite {
  serviceConnectionString(): string;
  /** What `lazuli connection-string --eventhub` prints. */
  eventHubConnectionString(): string;
  policy(name: string): SharedAccessPolicy;
  /** The CA the hub's certificate chains to. */
  ca(): string;
}

describe('Azure IoT SDKs against lazuli start', { concurrency: false }, () => {
  let hub: HubProcess;
  let policies: SharedAccessPolicy[];
  const dataDir = seededDataDir();

  const suite: AzureSuite = {
    serviceConnectionString: () => `HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=${suite.policy('iothubowner').primaryKey}`,
    eventHubConnectionString: () =>
      `Endpoint=sb://localhost:5671/;SharedAccessKeyName=iothubowner;SharedAccessKey=${suite.policy('iothubowner').primaryKey};EntityPath=lazuli`,
    ca: () => hub.ca,
    policy: (name) => {
      const p = policies.find((x) => x.name === name);
      if (!p) throw new Error(`no policy ${name}`);
      return p;
    },
  };

  before(async () => {
    await assertAzurePortsFree();
    hub = await startHubProcess(dataDir, START_ARGS);
    policies = JSON.parse(readFileSync(join(dataDir, 'policies.json'), 'utf8')) as SharedAccessPolicy[];
  });

  after(async () => {
    if (hub) assert.equal(await hub.stop(), 0, `the hub did not stop cleanly:\n${hub.output()}`);
  });

  registryScenarios(suite);
  telemetryScenarios(suite);
  c2dScenarios(suite);
  twinScenarios(suite);
  methodScenarios(suite);

  test('a restart keeps every device', async () => {
    const registry = iothub.Registry.fromConnectionString(suite.serviceConnectionString());
    const before = (await registry.list()).responseBody.map((d) => `${d.deviceId}:${d.generationId}:${d.etag}`).sort();
    assert.ok(before.length >= 5, 'the scenarios above should have left devices behind');
    assert.equal(await hub.stop(), 0);
    hub = await startHubProcess(dataDir, START_ARGS);
    const again = iothub.Registry.fromConnectionString(suite.serviceConnectionString());
    const after = (await again.list()).responseBody.map((d) => `${d.deviceId}:${d.generationId}:${d.etag}`).sort();
    assert.deepEqual(after, before);
  });
});
