import { LRUCache } from 'lru-cache';
import type { RateLimits } from './limits.js';

const HOUR_SECONDS = 3600;

/**
 * Per key, a count of something a tenant's own doing causes (a turn the model refused for what it
 * held, a lorebook pattern that stalled the scan), over a fixed hour from the first (shared by
 * the instances with Redis), and, in this process, the keys whose count is used up, until their
 * hour is over. Asking whether a key is closed reads only this process's list, so the paths that
 * ask on every turn pay no round trip: an instance learns a key is closed from its own next count
 * of that key, so each instance lets at most one more through (and those already in flight).
 */
export class ClosingCount {
  /** Key → when it opens again (the engine's clock). */
  readonly #closed = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly limits: RateLimits,
    /** Names this count's keys in the shared limits. */
    private readonly prefix: string,
    readonly perHour: number,
    private readonly now: () => number,
  ) {}

  /** Milliseconds until `key` opens again; 0 when it is open. */
  closedFor(key: string): number {
    const until = this.#closed.get(key);
    if (until === undefined) return 0;
    const ms = until - this.now();
    if (ms > 0) return ms;
    this.#closed.delete(key);
    return 0;
  }

  /** Count one for `key`; the one that uses the hour's count up closes it. */
  async count(key: string): Promise<void> {
    const r = await this.limits.spend(`${this.prefix}${key}`, this.perHour, HOUR_SECONDS);
    if (r.left <= 0) this.#closed.set(key, this.now() + Math.max(1, r.resetMs));
  }
}
