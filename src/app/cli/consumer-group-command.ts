import { parseArgs } from 'node:util';
import type { ConsumerGroup } from '../../core/eventhub/consumer-group-service.js';
import { DEFAULTS } from '../config.js';
import { CliError } from './cli-error.js';
import { CONSUMER_GROUP_USAGE } from './usage.js';
import { HubRestClient } from './hub-rest-client.js';
import { formatTable } from './table.js';


const OPTIONS = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function consumerGroupCommand(args: string[], env: NodeJS.ProcessEnv, out: Pick<NodeJS.WritableStream, 'write'> = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const [action, name, ...extra] = positionals;
  if (extra.length > 0) throw new CliError(`unexpected arguments: ${extra.join(' ')}`, 2);
  const needName = (): string => {
    if (!name) throw new CliError(`lazuli consumer-group ${action} needs a consumer group name\n\n${CONSUMER_GROUP_USAGE}`, 2);
    return name;
  };
  const print = (text: string, json: unknown) => out.write(values.json ? JSON.stringify(json, null, 2) + '\n' : text);
  const client = () => new HubRestClient(values['data-dir'] ?? env.LAZULI_DATA_DIR ?? DEFAULTS.dataDir);
  const path = () => `/lazuli/consumerGroups/${encodeURIComponent(needName())}`;

  switch (action) {
    case 'create': {
      const response = await client().call('PUT', path());
      const group = response.body as ConsumerGroup;
      const created = response.status === 201;
      print(created ? `created ${group.name}\n` : `${group.name} already exists (created ${group.createdAt})\n`, { ...group, created });
      return 0;
    }
    case 'list': {
      if (name) throw new CliError(`unexpected arguments: ${name}`, 2);
      const groups = (await client().call('GET', '/lazuli/consumerGroups')).body as ConsumerGroup[];
      print(formatTable(['NAME', 'CREATED'], groups.map((g) => [g.name, g.createdAt])), groups);
      return 0;
    }
    case 'delete': {
      await client().call('DELETE', path());
      print(`deleted ${needName()}\n`, { deleted: needName() });
      return 0;
    }
    default:
      throw new CliError(`lazuli consumer-group needs one of create, list, delete\n\n${CONSUMER_GROUP_USAGE}`, 2);
  }
}
