#!/usr/bin/env node
// `npm test`: compile, then run every compiled *.test.js under dist/test with node's test runner.
// Node 20's runner takes no globs, so the files are listed here. Arguments narrow the run to paths containing them
// (`npm test -- contract`).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);

const filters = process.argv.slice(2);
const testRoot = join(root, 'dist/test');
const files = readdirSync(testRoot, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
  .map((f) => join(testRoot, f));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

// The Azure SDKs take no CA option on the service side: they trust what NODE_EXTRA_CA_CERTS names, read once at
// process start. The e2e support code creates this CA, and each hub under test issues its server certificate from it.
const env = { ...process.env, LAZULI_TEST_CA_DIR: join(root, '.lazuli-test/ca') };
const prepare = join(root, 'dist/test/support/prepare-test-ca.js');
const prep = spawnSync(process.execPath, [prepare], { stdio: 'inherit', env });
if (prep.status !== 0) process.exit(prep.status ?? 1);
env.NODE_EXTRA_CA_CERTS = join(env.LAZULI_TEST_CA_DIR, 'ca.pem');

const run = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...files], { stdio: 'inherit', env });
process.exit(run.status ?? 1);
