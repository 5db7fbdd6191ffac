/** Small helpers shared by the benchmarks: percentiles and ratio formatting. */
export function percentile(samples: number[], p: number): number {
  if (!samples.length) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** The middle of `samples` (the mean of the two middle ones for an even count). */
export function median(samples: number[]): number {
  if (!samples.length) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
}

export const ms = (n: number) => `${n.toFixed(2)} ms`;
export const ratio = (n: number, floor: number) => `${(n / floor).toFixed(2)}×`;

/** Time `fn` n times (after `warmup` untimed runs); returns each duration in ms. */
export async function timeEach(n: number, fn: (i: number) => Promise<unknown>, warmup = 5): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}
