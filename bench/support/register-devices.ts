import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { readPolicies } from '../../src/app/data-dir.js';
import { createSasToken } from '../../src/domain/sas.js';
import type { HubProcess } from '../../test/support/hub-process.js';

/** What an MQTT device sends in CONNECT to authenticate with a SAS token. */
export interface MqttCredentials {
  clientId: string;
  username: string;
  password: string;
}

const BATCH = 100;

/**
 * Registers `ids` with symmetric keys through the bulk registry API (100 per request), as iothubowner, and returns
 * each device's MQTT credentials, valid for an hour.
 */
export async function registerMqttDevices(hub: HubProcess, ids: readonly string[]): Promise<MqttCredentials[]> {
  const owner = readPolicies(hub.dataDir)?.find((p) => p.name === 'iothubowner');
  if (!owner) throw new Error('the hub has no iothubowner policy');
  const host = hub.settings.hostname;
  const auth = createSasToken({ resource: host, keyBase64: owner.primaryKey, keyName: owner.name, expiry: Date.now() / 1000 + 3600, encode: false });
  const agent = new Agent({ keepAlive: true, ca: hub.ca });
  const credentials: MqttCredentials[] = [];
  try {
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH).map((id) => ({ id, key: randomBytes(32).toString('base64') }));
      const body = JSON.stringify(batch.map((d) => ({ id: d.id, importMode: 'create', authentication: { type: 'sas', symmetricKey: { primaryKey: d.key, secondaryKey: d.key } } })));
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: 'localhost', port: hub.settings.ports.https, method: 'POST', path: '/devices?api-version=2021-04-12', agent, headers: { authorization: auth, 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
      if (status !== 200) throw new Error(`bulk registration answered ${status}`);
      for (const d of batch) {
        const password = createSasToken({ resource: `${host}/devices/${d.id}`, keyBase64: d.key, expiry: Date.now() / 1000 + 3600 });
        credentials.push({ clientId: d.id, username: `${host}/${d.id}/?api-version=2021-04-12`, password });
      }
    }
  } finally {
    agent.destroy();
  }
  return credentials;
}
