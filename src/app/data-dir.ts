import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey } from '../domain/keys.js';
import { DEFAULT_POLICY_PERMISSIONS, PERMISSIONS, type SharedAccessPolicy } from '../domain/permissions.js';

/**
 * The data dir: `hub.json` (what the hub was started with, for other commands to read), `policies.json` (shared
 * access policy keys), the CA and server certificate, and the embedded database.
 */
export interface HubSettings {
  name: string;
  hostname: string;
  bind?: string;
  ports: { mqtt: number; amqp: number; https: number };
  partitions: number;
  createdAt: string;
  startedAt: string;
  pid: number;
}

export const DATA_FILES = {
  settings: 'hub.json',
  policies: 'policies.json',
  database: 'lazuli.db',
  telemetry: 'telemetry.db',
} as const;

export class DataDirError extends Error {
  override name = 'DataDirError';
}

export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function readSettings(dir: string): HubSettings | undefined {
  return readJson<HubSettings>(join(dir, DATA_FILES.settings));
}

/** Settings for commands that need a hub that has been started at least once. */
export function requireSettings(dir: string): HubSettings {
  const settings = readSettings(dir);
  if (!settings) throw new DataDirError(`${join(dir, DATA_FILES.settings)} not found: start the hub once with "lazuli start --data-dir ${dir}"`);
  return settings;
}

export function writeSettings(dir: string, settings: HubSettings): void {
  writeAtomically(join(dir, DATA_FILES.settings), JSON.stringify(settings, null, 2) + '\n', 0o644);
}

export function readPolicies(dir: string): SharedAccessPolicy[] | undefined {
  const policies = readJson<SharedAccessPolicy[]>(join(dir, DATA_FILES.policies));
  if (policies === undefined) return undefined;
  if (!Array.isArray(policies) || !policies.every(isPolicy)) {
    throw new DataDirError(`${join(dir, DATA_FILES.policies)} is not a list of shared access policies`);
  }
  return policies;
}

/** The hub's policies; on first start Azure's five default policies with fresh random keys. */
export function loadOrCreatePolicies(dir: string): SharedAccessPolicy[] {
  const existing = readPolicies(dir);
  if (existing) return existing;
  const policies = Object.entries(DEFAULT_POLICY_PERMISSIONS).map(([name, permissions]) => ({
    name,
    primaryKey: generateKey(),
    secondaryKey: generateKey(),
    permissions: [...permissions],
  }));
  writeAtomically(join(dir, DATA_FILES.policies), JSON.stringify(policies, null, 2) + '\n', 0o600);
  return policies;
}

export function databasePath(dir: string): string {
  return join(dir, DATA_FILES.database);
}

export function telemetryDatabasePath(dir: string): string {
  return join(dir, DATA_FILES.telemetry);
}

function isPolicy(p: unknown): p is SharedAccessPolicy {
  const v = p as SharedAccessPolicy;
  return (
    typeof v?.name === 'string' &&
    typeof v.primaryKey === 'string' &&
    typeof v.secondaryKey === 'string' &&
    Array.isArray(v.permissions) &&
    v.permissions.every((x) => (PERMISSIONS as readonly string[]).includes(x))
  );
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new DataDirError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function writeAtomically(file: string, text: string, mode: number): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode });
  renameSync(temp, file);
}
