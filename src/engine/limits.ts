import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * Rate limits behind a narrow interface: the memory store today, Redis (rate-limiter-flexible's
 * RateLimiterRedis has the same consume()) when several processes share limits.
 */
export interface RateLimits {
  /** Take one point from `key`, whose budget is `perMinute`; say how long to wait when empty. */
  consume(key: string, perMinute: number): Promise<{ ok: true } | { ok: false; retryAfterMs: number }>;
}

export class MemoryRateLimits implements RateLimits {
  private limiters = new Map<number, RateLimiterMemory>();

  async consume(key: string, perMinute: number): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    let limiter = this.limiters.get(perMinute);
    if (!limiter) {
      limiter = new RateLimiterMemory({ points: perMinute, duration: 60, keyPrefix: `rl${perMinute}` });
      this.limiters.set(perMinute, limiter);
    }
    try {
      await limiter.consume(key);
      return { ok: true };
    } catch (res) {
      if (res instanceof RateLimiterRes) return { ok: false, retryAfterMs: Math.max(1, res.msBeforeNext) };
      throw res;
    }
  }
}

/**
 * Remembers when a limited key was last told so, so a user over the limit gets one short
 * notice per window instead of one per message. Bounded: the least recently limited keys go
 * first, and an entry is only needed until its window ends.
 */
export class NoticeGate {
  private readonly until = new LRUCache<string, number>({ max: 10_000 });

  shouldNotify(key: string, now: number, windowEndsAt: number): boolean {
    const prev = this.until.get(key);
    if (prev !== undefined && now < prev) return false;
    this.until.set(key, windowEndsAt);
    return true;
  }
}

/** A counting semaphore: the global cap on concurrent model calls. Waiters are served FIFO. */
export class Semaphore {
  private queue: Array<() => void> = [];
  private inUse = 0;
  constructor(private readonly max: number) {}

  async acquire(): Promise<() => void> {
    if (this.inUse < this.max) this.inUse++;
    else await new Promise<void>((r) => this.queue.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next();
      else this.inUse--;
    };
  }

  get active(): number {
    return this.inUse;
  }
}
