import { rmSync } from 'node:fs';
import pino from 'pino';
import { buildHub, type RunningHub } from '../../src/app/build-hub.js';
import { resolveStartConfig } from '../../src/app/config.js';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { createSasToken } from '../../src/domain/sas.js';
import { rawRequest, type RawResponse } from './https-client.js';
import { seededDataDir } from './test-ca.js';

export interface TestHub {
  running: RunningHub;
  port: number;
  ca: string;
  policy(name: string): SharedAccessPolicy;
  /** A fresh service token for a policy (default iothubowner). */
  serviceToken(policy?: string): string;
  /** A service REST call as iothubowner (api-version added); a non-string body is sent as JSON. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<RawResponse>;
  close(): Promise<void>;
}

/** buildHub on one ephemeral port (every protocol on it), a temp data dir and a silent logger. */
export async function startTestHub(): Promise<TestHub> {
  const dataDir = seededDataDir();
  const config = resolveStartConfig({ 'data-dir': dataDir, 'https-port': '0', 'mqtt-port': '0', 'amqp-port': '0', bind: '127.0.0.1' }, {});
  const policies: SharedAccessPolicy[] = (await import('../../src/app/data-dir.js')).loadOrCreatePolicies(dataDir);
  const running = await buildHub(config, pino({ level: 'silent' }));
  const hub: TestHub = {
    running,
    port: running.settings.ports.https,
    ca: running.caPem,
    policy: (name) => policies.find((p) => p.name === name)!,
    serviceToken: (name = 'iothubowner') =>
      createSasToken({ resource: 'localhost', keyBase64: hub.policy(name).primaryKey, keyName: name, expiry: Date.now() / 1000 + 3600, encode: false }),
    call(method, path, body, headers = {}) {
      const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      return rawRequest({
        port: hub.port,
        ca: hub.ca,
        method,
        path: `${path}?api-version=2021-04-12`,
        headers: {
          authorization: hub.serviceToken(),
          ...(text === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
          ...headers,
        },
        ...(text === undefined ? {} : { body: text }),
      });
    },
    async close() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return hub;
}
