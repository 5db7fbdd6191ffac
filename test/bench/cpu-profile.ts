/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and says where the CPU time of a time
 * window went: self time per function and per module (a package under node_modules, a folder
 * of this repository, or Node's own internals), as ms per turn and share of the busy time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time that was not idle, ms. */
  busyMs: number;
  functions: Array<{ name: string; ms: number }>;
  modules: Array<{ name: string; ms: number }>;
  /**
   * Each sample charged to the innermost function of this repository on its stack, so library
   * time lands on the code of ours that asked for it (e.g. SQLite time on the store method).
   */
  ownCallers: Array<{ name: string; ms: number }>;
}

/** Which module a script URL belongs to, relative to `root` (the repository). */
export function moduleOf(url: string, root: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const path = url.replace(/^file:\/\//, '');
  const pkg = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path); // the innermost package (nested copies count as themselves)
  if (pkg) return pkg[1]!;
  if (path.startsWith(root)) return path.slice(root.length + 1).split('/').slice(0, 2).join('/');
  return path;
}

/** Self time per function and module for samples taken between `fromUs` and `toUs` (monotonic clock, µs). */
export function summarizeProfile(file: string, root: string, fromUs: number, toUs: number, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const ownerCache = new Map<number, string>();
  const ownerOf = (n: ProfileNode | undefined): string => {
    if (!n) return '(none of ours on the stack)';
    const hit = ownerCache.get(n.id);
    if (hit !== undefined) return hit;
    const path = n.callFrame.url.replace(/^file:\/\//, '');
    const mine = path.startsWith(root) && !path.includes('/node_modules/');
    const owner = mine ? `${n.callFrame.functionName || '(anonymous)'} ${path.slice(root.length + 1)}` : ownerOf(parent.get(n.id));
    ownerCache.set(n.id, owner);
    return owner;
  };
  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  const owners = new Map<string, number>();
  let busyUs = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) continue;
    const node = byId.get(p.samples[i]!);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    const next = p.timeDeltas[i + 1] ?? dt; // a sample stands for the interval until the next one
    busyUs += next;
    const mod = functionName.startsWith('(') && !url ? functionName : moduleOf(url, root); // (program), (garbage collector)
    const name = `${functionName || '(anonymous)'} ${mod}${url ? `:${lineNumber + 1}` : ''}`;
    fns.set(name, (fns.get(name) ?? 0) + next);
    mods.set(mod, (mods.get(mod) ?? 0) + next);
    const owner = ownerOf(node);
    owners.set(owner, (owners.get(owner) ?? 0) + next);
  }
  const ranked = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: us / 1000 }));
  return { busyMs: busyUs / 1000, functions: ranked(fns), modules: ranked(mods), ownCallers: ranked(owners) };
}

/**
 * The main thread's profile in `dir` (where `node --cpu-prof --cpu-prof-dir=dir` wrote it, once
 * the process exited), summarized for the samples between `fromUs` and `toUs`.
 */
export function mainThreadProfile(dir: string, root: string, fromUs: number, toUs: number): ProfileSummary | undefined {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.split('.')[4] === '0');
  return file ? summarizeProfile(join(dir, file), root, fromUs, toUs) : undefined;
}

/** A profile's figures as a bench prints them: busy CPU, then modules, functions and our code, per turn and as a share. */
export function describeProfile(p: ProfileSummary, turns: number, into: Record<string, string | number>, label: string): void {
  const share = (ms: number) => `${(ms / Math.max(1, turns)).toFixed(3)} ms/turn (${((100 * ms) / p.busyMs).toFixed(1)}%)`;
  into[`${label}: busy CPU sampled during the load`] = `${Math.round(p.busyMs)} ms, ${(p.busyMs / Math.max(1, turns)).toFixed(2)} ms per turn`;
  p.modules.forEach((m, i) => (into[`${label}: module #${i + 1} ${m.name}`] = share(m.ms)));
  p.functions.forEach((fn, i) => (into[`${label}: function #${i + 1} ${fn.name}`] = share(fn.ms)));
  // Only synchronous stacks are sampled: work resumed after an await has none of our frames on it.
  p.ownCallers
    .filter((fn) => !fn.name.startsWith('('))
    .forEach((fn, i) => (into[`${label}: our code #${i + 1} ${fn.name}, with the libraries it calls synchronously`] = share(fn.ms)));
}
