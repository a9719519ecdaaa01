import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';
import { test } from 'node:test';

// Imports follow the arrows: protocols -> core -> ports <- storage | fabric; domain imports nothing of ours;
// app wires everything and nothing imports it. This test reads the sources, so a new wrong arrow fails CI.
const SRC = resolve(new URL('../../../src', import.meta.url).pathname);
const ALLOWED: Record<string, readonly string[]> = {
  domain: [],
  ports: ['domain'],
  core: ['domain', 'ports'],
  protocols: ['domain', 'core', 'ports'],
  storage: ['domain', 'ports'],
  fabric: ['domain', 'ports'],
  app: ['domain', 'ports', 'core', 'protocols', 'storage', 'fabric'],
};

function layerOf(file: string): string {
  return relative(SRC, file).split(sep)[0]!;
}

test('source imports follow the architecture arrows', () => {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(SRC, f));
  assert.ok(files.length > 10, 'found the sources');
  const violations: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    assert.ok(from in ALLOWED, `${relative(SRC, file)} is in no known layer`);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = resolve(dirname(file), match[1]!);
      const to = layerOf(target);
      if (to !== from && !ALLOWED[from]!.includes(to)) violations.push(`${relative(SRC, file)} -> ${relative(SRC, target)} (${from} may not import ${to})`);
    }
  }
  assert.deepEqual(violations, []);
});
