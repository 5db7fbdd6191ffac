import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const policy = fileURLToPath(new URL('../../src/heap-policy.ts', import.meta.url));

/**
 * A process that keeps ~15 MB live and churns objects that live long enough to be promoted (the
 * shape of a bot's turns waiting for their send slot), reporting the largest heap it reached.
 */
function peakHeapMb(percent: number): number {
  const script = `
    import { applyHeapGrowth } from ${JSON.stringify(policy)};
    applyHeapGrowth(${percent});
    const live = []; for (let i = 0; i < 200_000; i++) live.push({ i, s: 'x' + i });
    const ring = new Array(150_000); let peak = 0;
    for (let n = 0; n < 2_000_000; n++) {
      ring[n % ring.length] = { n, a: [n, n + 1, n + 2], s: 'y' + n };
      if (n % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    process.stdout.write(String(live.length > 0 ? peak / 2 ** 20 : 0));`;
  return Number(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }));
}

describe('heap growth policy', () => {
  it('keeps the heap near its live size where V8 alone lets garbage pile up', () => {
    const v8Choice = peakHeapMb(0);
    const capped = peakHeapMb(30);
    expect(capped).toBeGreaterThan(15); // the live data is all there
    expect(capped).toBeLessThan(v8Choice * 0.7);
  }, 30_000);

  it('is configured by HEAP_GROWTH_PERCENT, 50 unless set', () => {
    expect(loadConfig({}).runtime.heapGrowthPercent).toBe(50);
    expect(loadConfig({ HEAP_GROWTH_PERCENT: '0' }).runtime.heapGrowthPercent).toBe(0);
    expect(() => loadConfig({ HEAP_GROWTH_PERCENT: '900' })).toThrow(/HEAP_GROWTH_PERCENT/);
  });
});
