/** Azure connection strings: `Key=Value` pairs joined by `;`, each split at its first `=`. */
export function formatConnectionString(fields: ReadonlyArray<readonly [string, string | undefined]>): string {
  return fields
    .filter((f): f is readonly [string, string] => f[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

export function parseConnectionString(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) continue;
    fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return fields;
}
