import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AmqpError } from 'rhea';
import { ERROR_CATALOGUE } from '../../domain/errors.js';
import { OWNER_POLICY, type SharedAccessPolicy } from '../../domain/permissions.js';
import { createSasToken } from '../../domain/sas.js';
import { readPolicies, requireSettings } from '../data-dir.js';
import { CliError } from './cli-error.js';
import { openAmqpClient, type AmqpClient } from './amqp-client.js';
import { localDialAddress } from './hub-address.js';

const SERVICE_POLICIES = [OWNER_POLICY, 'service'];

/** An AMQP connection to the running hub of `dataDir`, authorised as a back end (ServiceConnect), as `azure-iothub` connects. */
export async function openServiceAmqp(dataDir: string): Promise<AmqpClient> {
  const settings = requireSettings(dataDir);
  const policy = servicePolicy(dataDir);
  let client: AmqpClient;
  try {
    client = await openAmqpClient({ host: localDialAddress(settings), port: settings.ports.amqp, hostname: settings.hostname, ca: readFileSync(join(dataDir, 'ca.pem'), 'utf8') });
  } catch (err) {
    throw new CliError(`cannot reach the hub on AMQP port ${settings.ports.amqp} (${(err as Error).message}): is "lazuli start --data-dir ${dataDir}" running?`);
  }
  try {
    const token = createSasToken({ resource: settings.hostname, keyBase64: policy.primaryKey, keyName: policy.name, expiry: Date.now() / 1000 + 3600 });
    await client.putToken(settings.hostname, token);
  } catch (err) {
    client.close();
    throw new CliError((err as Error).message);
  }
  return client;
}

/** Closes the connection and waits for the hub's close, so that settlements sent just before reach it. */
export async function closeServiceAmqp(client: AmqpClient): Promise<void> {
  const closed = new Promise((resolve) => client.connection.once('connection_close', resolve));
  client.close();
  await Promise.race([closed, client.lost.catch(() => undefined)]);
}

/** Azure's terms for an AMQP error: `DeviceNotFound (404001, amqp:not-found): Device x is not registered`. */
export function describeAmqpError(error: AmqpError | undefined): string {
  if (!error) return 'no reason given';
  const code = (error.info as Record<string, unknown> | undefined)?.['com.microsoft:error-code'];
  const name = Object.entries(ERROR_CATALOGUE).find(([, entry]) => entry.code === Number(code))?.[0];
  const origin = code === undefined ? String(error.condition) : `${name ?? 'error'} (${String(code)}, ${String(error.condition)})`;
  return `${origin}: ${error.description ?? ''}`;
}

function servicePolicy(dataDir: string): SharedAccessPolicy {
  const policies = readPolicies(dataDir) ?? [];
  for (const name of SERVICE_POLICIES) {
    const policy = policies.find((p) => p.name === name);
    if (policy) return policy;
  }
  throw new CliError(`no ${SERVICE_POLICIES.join(' or ')} policy in ${dataDir}`);
}
