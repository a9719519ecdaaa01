import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../../src/app/cli/table.js';
import { fixed } from './stats.js';

/** The project folder (this file runs as dist/bench/support/…), stripped from paths in profiles. */
const PROJECT_ROOT = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');
const PROFILE_TOP = 25;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  /** `name (file:line)`, the file relative to the project where it is in it. */
  where: string;
  selfMs: number;
  /** Time with the function anywhere on the stack (recursion counted once). */
  totalMs: number;
}

/**
 * Self and total time per function of a .cpuprofile, by self time, heaviest first; `(idle)` is left out. Native
 * functions are told apart by their caller.
 */
export function functionTimes(file: string, projectRoot: string): { sampledMs: number; functions: FunctionTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const nameOf = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const path = url.startsWith(`file://${projectRoot}/`) ? url.slice(`file://${projectRoot}/`.length) : url.replace(/^file:\/\//, '');
    return `${functionName || '(anonymous)'}${path ? ` (${path}:${lineNumber + 1})` : ''}`;
  };
  // A native function (better-sqlite3's Statement#run, a socket's writeBuffer) says little alone: name its caller.
  const keyOf = (node: ProfileNode) => {
    const caller = node.callFrame.url === '' ? byId.get(parent.get(node.id) ?? -1) : undefined;
    return caller && caller.callFrame.functionName !== '(root)' ? `${nameOf(node)} ← ${nameOf(caller)}` : nameOf(node);
  };
  const times = new Map<string, FunctionTime>();
  const entry = (where: string) => {
    let t = times.get(where);
    if (!t) times.set(where, (t = { where, selfMs: 0, totalMs: 0 }));
    return t;
  };
  let sampledMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)') return;
    sampledMs += ms;
    entry(keyOf(leaf)).selfMs += ms;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(byId.get(at)!);
      if (seen.has(key)) continue;
      seen.add(key);
      entry(key).totalMs += ms;
    }
  });
  return { sampledMs, functions: [...times.values()].sort((a, b) => b.selfMs - a.selfMs) };
}

/** The heaviest functions of a phase's hub CPU profile, by self time. */
export function printProfile(phase: string, file: string): void {
  const { sampledMs, functions } = functionTimes(file, PROJECT_ROOT);
  console.log(`\nhub CPU profile, ${phase} phase (${file}): ${fixed(sampledMs / 1000, 1)} s sampled off idle; top ${PROFILE_TOP} by self time`);
  const rows = functions.slice(0, PROFILE_TOP).map((f) => [fixed(f.selfMs, 0), fixed((100 * f.selfMs) / sampledMs, 1), fixed((100 * f.totalMs) / sampledMs, 1), f.where]);
  console.log(formatTable(['self ms', 'self %', 'total %', 'function'], rows));
}
