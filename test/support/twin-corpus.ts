// A deterministic fleet of devices, modules and twins for twin-query tests and benches: varied registry fields, and
// tags / desired / reported values of every JSON type, mixed types under one key, missing keys, odd keys and strings
// that jsonb cannot hold as they are.
import type { ConnectionInfo } from '../../src/core/registry/identity-view.js';
import type { Authentication, DeviceRecord, ModuleRecord } from '../../src/domain/identity.js';
import type { JsonObject, JsonValue, TwinRecord } from '../../src/domain/twin.js';
import type { RegistryStore } from '../../src/ports/registry-store.js';
import { ABSENT, type TwinStore } from '../../src/ports/twin-store.js';

export interface TwinCorpus {
  devices: DeviceRecord[];
  modules: ModuleRecord[];
  /** Not every target has one: those without show the empty twin. */
  twins: TwinRecord[];
}

/** mulberry32: the same fleet on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['a', 'alpha', 'Beta', 'beta', 'gamma', 'ÄÖ', 'z', '', 'a\u0000b', 'x\ud800', '\ud800\udc00y', '\ufffd', '😀smile', '\ue000private', "it's", 'say "hi"', 'back\\slash', 'al', 'delta'];
const REGIONS = ['US', 'EU', 'APAC'];
const FIRMWARE = ['1.2.3', '2.0', '10.1', '1.10'];
const STATES = ['on', 'off', 'idle'];

export function makeCorpus(options: { devices: number; seed?: number }): TwinCorpus {
  const random = seededRandom(options.seed ?? 7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const chance = (p: number) => random() < p;
  const corpus: TwinCorpus = { devices: [], modules: [], twins: [] };
  for (let i = 0; i < options.devices; i++) {
    // Upper and lower case and punctuation, so binary order shows.
    const deviceId = `${['dev', 'Dev', 'edge.', 'x-'][i % 4]}${String(i).padStart(4, '0')}`;
    corpus.devices.push(device(deviceId, i, pick, chance));
    if (chance(0.9)) {
      const twin = { deviceId, version: 1 + Math.floor(random() * 5), ...sections(pick, chance, random) };
      // One device in 500 per value: a selective tag.
      twin.tags.batch = i % 500;
      corpus.twins.push(twin);
    }
    const moduleCount = chance(0.4) ? 1 + Math.floor(random() * 3) : 0;
    for (let m = 1; m <= moduleCount; m++) {
      const moduleId = `m${m}`;
      corpus.modules.push({ deviceId, moduleId, generationId: `g${i}${m}`, version: 1, managedBy: chance(0.5) ? null : 'edge', authentication: sas() });
      if (chance(0.8)) {
        corpus.twins.push({
          deviceId,
          moduleId,
          version: 1 + m,
          tags: maybe(chance, { role: pick(['sensor', 'gateway', 7, null]) }),
          desired: section({ rate: pick([1, 2, '2']) }, 1 + m),
          reported: section(maybe(chance, { state: pick(STATES), status: pick(['scanning', 'idle']) }), m),
        });
      }
    }
  }
  return corpus;
}

/** What the hub would know of a target's connection, decided by its id so every hub built on a corpus agrees. */
export function corpusConnectionInfo(deviceId: string, moduleId?: string): Promise<ConnectionInfo> {
  const n = Number(deviceId.replace(/\D/g, '')) + (moduleId === undefined ? 0 : moduleId.length);
  return Promise.resolve({
    connectionState: n % 3 === 0 ? 'Connected' : 'Disconnected',
    connectionStateUpdatedTime: '2024-01-01T00:00:00Z',
    lastActivityTime: `2024-01-${String(1 + (n % 28)).padStart(2, '0')}T00:00:00Z`,
    cloudToDeviceMessageCount: n % 5,
  });
}

/** Stores the corpus; `concurrency` writes at a time. */
export async function loadCorpus(corpus: TwinCorpus, registry: RegistryStore, twins: TwinStore, concurrency = 1): Promise<void> {
  const run = async <T>(items: T[], write: (item: T) => Promise<unknown>) => {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await write(items[next++]!);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  await run(corpus.devices, (d) => registry.createDevice(d));
  await run(corpus.modules, (m) => registry.createModule(m));
  await run(corpus.twins, (t) => twins.put(t, ABSENT));
}

function device(deviceId: string, i: number, pick: <T>(items: readonly T[]) => T, chance: (p: number) => boolean): DeviceRecord {
  const edge = chance(0.2);
  return {
    deviceId,
    generationId: `gen${i}`,
    version: 1,
    status: chance(0.2) ? 'disabled' : 'enabled',
    statusReason: chance(0.3) ? pick(['maintenance', 'stolen']) : null,
    statusUpdatedTime: `2024-02-${String(1 + (i % 28)).padStart(2, '0')}T00:00:00Z`,
    authentication: chance(0.2) ? thumbprints(i) : chance(0.1) ? none() : sas(),
    capabilities: { iotEdge: edge },
    deviceScope: edge ? `ms-azure-iot-edge://${deviceId}-gen${i}` : null,
    parentScopes: edge ? [] : ['ms-azure-iot-edge://parent-1'],
  };
}

function sections(pick: <T>(items: readonly T[]) => T, chance: (p: number) => boolean, random: () => number) {
  const tags: JsonObject = {};
  if (chance(0.8)) tags.location = pick<JsonValue>([{ region: pick(REGIONS), city: pick(['Paris', 'Lyon']) }, { city: 'Nowhere' }, 'US', null]);
  if (chance(0.8)) tags.floor = pick<JsonValue>([1, 2, 3, 3, 10, 2.5, -1, '3', '10', true, null]);
  if (chance(0.8)) tags.name = pick(NAMES);
  if (chance(0.6)) tags.list = pick<JsonValue>([['a', 'b'], [1, 2, 3], [{ k: 1 }], [['a']], [], [1, '1', null, true], 'a']);
  if (chance(0.6)) tags.flag = pick<JsonValue>([true, false, 'true', 1]);
  if (chance(0.3)) tags.weird = { 'a.b': pick([1, 2]), "it's": 2, '0': 'zero', '': 'empty', 'x"y': pick([true, false]), ü: 'u' };
  if (chance(0.4)) tags.nested = { deep: { deeper: Math.floor(random() * 10) } };
  if (chance(0.7)) tags.n = pick<JsonValue>([0, 1, 2, 4, 5, 9, 2.5, '4']);
  const desired: JsonObject = {};
  if (chance(0.7)) desired.interval = pick<JsonValue>([10, 30, 60, '30']);
  if (chance(0.7)) desired.mode = pick<JsonValue>(['eco', 'perf', null]);
  if (chance(0.3)) desired.cfg = { a: pick<JsonValue>([1, 'x', [1]]) };
  const reported: JsonObject = {};
  if (chance(0.7)) reported.fw = pick(FIRMWARE);
  if (chance(0.7)) reported.temp = pick<JsonValue>([20.5, 21, -3.25, 1e21, 5e-324, 0, '21']);
  if (chance(0.5)) reported.ok = chance(0.5);
  if (chance(0.4)) reported.arr = pick<JsonValue>([[1], ['x', 'y'], [{ k: 1 }], 1]);
  if (chance(0.3)) reported.status = pick(['Success', 'Pending']);
  return { tags, desired: section(desired, 1 + Math.floor(random() * 3)), reported: section(reported, 1 + Math.floor(random() * 3)) };
}

function section(properties: JsonObject, version: number) {
  return { properties, version, metadata: { $lastUpdated: '2024-03-01T00:00:00.000Z' } };
}

function maybe(chance: (p: number) => boolean, value: JsonObject): JsonObject {
  return chance(0.7) ? value : {};
}

function sas(): Authentication {
  return { type: 'sas', symmetricKey: { primaryKey: 'cHJpbWFyeWtleXByaW1hcnlrZXk=', secondaryKey: 'c2Vjb25kYXJ5a2V5c2Vjb25kYXJ5' }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null } };
}

function thumbprints(i: number): Authentication {
  const hex = (i * 2654435761).toString(16).toUpperCase().padStart(8, '0').slice(0, 8).repeat(5);
  return { type: 'selfSigned', symmetricKey: { primaryKey: null, secondaryKey: null }, x509Thumbprint: { primaryThumbprint: hex, secondaryThumbprint: null } };
}

function none(): Authentication {
  return { type: 'none', symmetricKey: { primaryKey: null, secondaryKey: null }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null } };
}
