import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new data dir seeded with the suite's CA, so the hub's certificate is trusted by this test process. */
export function seededDataDir(prefix = 'lazuli-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const caDir = process.env.LAZULI_TEST_CA_DIR;
  if (!caDir || !existsSync(join(caDir, 'ca.pem'))) {
    throw new Error('LAZULI_TEST_CA_DIR has no CA: run the suite with "npm test", which creates it');
  }
  mkdirSync(dir, { recursive: true });
  for (const file of ['ca.pem', 'ca-key.pem']) copyFileSync(join(caDir, file), join(dir, file));
  return dir;
}
