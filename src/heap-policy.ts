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
