import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

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

/** Watches collections while the young generation may still grow to its cap. */
let youngCap: PerformanceObserver | undefined;
/** The growth factor last given to V8. */
let factor: number | undefined;

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
  youngCap?.disconnect();
  youngCap = undefined;
  setFactor(1);
}

/**
 * Give V8 its growth rule back, up to `capMb` of young generation (both semi-spaces; 0: V8's own
 * maximum, 32 MB on Node 20 and 22, 128 MB on Node 24). A busy bot's young generation otherwise
 * ends at that maximum: under
 * telegram-load a cap of 16 MB kept peak RSS 7–9% lower (~169 against ~184 MiB) for 3–6% more
 * CPU per turn (more, smaller scavenges). V8 takes its maximum only from the command line, so
 * the cap is kept by the same factor as the hold: after each collection, growth is allowed only
 * while one more doubling stays within the cap (V8's sizes double, so a cap between two of them
 * keeps the smaller). V8 13 (Node 24) may run a few pages past the cap between two scavenges and
 * returns to it at the next.
 */
export function releaseYoungGeneration(capMb = 0): void {
  youngCap?.disconnect();
  youngCap = undefined;
  if (capMb <= 0) {
    setFactor(V8_YOUNG_GROWTH);
    return;
  }
  // V8 regrows a young generation it has shrunk back to its earlier size without the factor,
  // and doubles from there: the decision goes by the largest size seen, not the current one.
  // That only grows, so once the cap is reached the decision is final and collections need no
  // more watching.
  let largest = 0;
  const decide = (): boolean => {
    largest = Math.max(largest, youngGenerationMb());
    const grow = largest * V8_YOUNG_GROWTH <= capMb;
    setFactor(grow ? V8_YOUNG_GROWTH : 1);
    if (!grow) youngCap?.disconnect();
    return grow;
  };
  if (!decide()) return;
  youngCap = new PerformanceObserver(() => void decide());
  youngCap.observe({ entryTypes: ['gc'] });
}

function setFactor(f: number): void {
  if (f === factor) return;
  factor = f;
  setFlagsFromString(`--semi-space-growth-factor=${f}`);
}

/** The young generation's committed size now, MB. */
export function youngGenerationMb(): number {
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return young ? young.space_size / 2 ** 20 : 0;
}
