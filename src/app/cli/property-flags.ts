import { CliError } from './cli-error.js';

/** The `--property name=value` flags of a command, as an object (a later name wins). */
export function propertiesOf(pairs: readonly string[]): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--property takes name=value, not "${pair}"`, 2);
    properties[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return properties;
}
