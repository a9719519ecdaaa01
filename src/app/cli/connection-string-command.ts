import { parseArgs } from 'node:util';
import { formatConnectionString } from '../../domain/connection-string.js';
import { OWNER_POLICY } from '../../domain/permissions.js';
import { DEFAULTS } from '../config.js';
import { databasePath, readPolicies, requireSettings } from '../data-dir.js';
import { connectionHostName } from './hub-address.js';
import { CliError } from './cli-error.js';


export async function connectionStringCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      policy: { type: 'string' },
      device: { type: 'string' },
      module: { type: 'string' },
      eventhub: { type: 'boolean' },
    },
    strict: true,
  });
  const dataDir = values['data-dir'] ?? env.LAZULI_DATA_DIR ?? DEFAULTS.dataDir;
  const settings = requireSettings(dataDir);
  const hostName = connectionHostName(settings);

  if (values.device !== undefined) {
    const key = await identityKey(dataDir, values.device, values.module);
    process.stdout.write(
      formatConnectionString([
        ['HostName', hostName],
        ['DeviceId', values.device],
        ['ModuleId', values.module],
        ['SharedAccessKey', key],
      ]) + '\n',
    );
    return 0;
  }
  if (values.module !== undefined) throw new CliError('--module needs --device');

  const policyName = values.policy ?? OWNER_POLICY;
  const policy = readPolicies(dataDir)?.find((p) => p.name === policyName);
  if (!policy) throw new CliError(`no shared access policy named "${policyName}" in ${dataDir}`);
  const text = values.eventhub
    ? formatConnectionString([
        ['Endpoint', `sb://${settings.hostname}:${settings.ports.amqp}/`],
        ['SharedAccessKeyName', policy.name],
        ['SharedAccessKey', policy.primaryKey],
        ['EntityPath', settings.name],
      ])
    : formatConnectionString([
        ['HostName', hostName],
        ['SharedAccessKeyName', policy.name],
        ['SharedAccessKey', policy.primaryKey],
      ]);
  process.stdout.write(text + '\n');
  return 0;
}

async function identityKey(dataDir: string, deviceId: string, moduleId: string | undefined): Promise<string> {
  // Loaded here so that the policy strings do not pay for the native SQLite driver.
  const { openSqliteDatabase } = await import('../../storage/sqlite/database.js');
  const { SqliteRegistryStore } = await import('../../storage/sqlite/sqlite-registry-store.js');
  const store = new SqliteRegistryStore(openSqliteDatabase(databasePath(dataDir)));
  try {
    const identity = moduleId === undefined ? await store.getDevice(deviceId) : await store.getModule(deviceId, moduleId);
    const who = moduleId === undefined ? `device "${deviceId}"` : `module "${deviceId}/${moduleId}"`;
    if (!identity) throw new CliError(`${who} is not registered in ${dataDir}`);
    const key = identity.authentication.symmetricKey.primaryKey;
    if (identity.authentication.type !== 'sas' || !key) {
      throw new CliError(`${who} authenticates with ${identity.authentication.type}, not a symmetric key`);
    }
    return key;
  } finally {
    await store.close();
  }
}
