import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what survived its last full collection before it
 * collects again. Left to itself V8 allows up to 4× when collections are cheap next to the
 * program's own work: right for a batch job, but a long-running bot keeps ~45 MB live, so it held
 * ~100 MB of dead objects resident between collections (peak RSS 220–227 MiB under
 * telegram-load; 185 MiB at 50%, for a few more full collections: about 1% of its CPU).
 * V8 reads the setting at every collection, so setting it once at start is enough; 0 leaves
 * V8's own choice.
 */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/** V8's own factor for growing the young generation (`--semi-space-growth-factor`). */
const V8_YOUNG_GROWTH = 2;

/**
 * Keep start-up from sizing the young generation. V8 doubles its young generation whenever more
 * has survived since the last doubling than it holds, and loading the modules is nothing but
 * survivors: a process that has only started is at V8's maximum (2 × 16 MB) before its first
 * message, and stays there, ~31 MB of RSS that a bot at rest or under light load never uses.
 * Held, start-up runs in the initial 1 MB; `releaseYoungGeneration` gives V8 its rule back, so
 * the young generation grows again if and when real traffic's survivors ask for it. V8 reads the
 * factor each time it would grow, so it can be changed at run time.
 */
export function holdYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

export function releaseYoungGeneration(): void {
  setFlagsFromString(`--semi-space-growth-factor=${V8_YOUNG_GROWTH}`);
}
