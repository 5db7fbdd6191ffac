/**
 * Discord-style REST rate limiting for the fake: fixed-window buckets per route template and
 * major parameter (channel, guild or webhook), a global per-bot limit, and the exact headers
 * Discord sends. discord.js reads ONLY these headers (X-RateLimit-Limit / -Remaining /
 * -Reset-After / -Bucket / -Global / -Scope and Retry-After) to pace itself, so getting them
 * right is what lets tests prove that our code survives bursts without losing messages.
 *
 * Header formats follow https://discord.com/developers/docs/topics/rate-limits: Reset is epoch
 * seconds with millisecond decimals, Reset-After is seconds with decimals, Retry-After is whole
 * seconds rounded up (set `retryAfterHeader: 'exact'` to get decimals, for fast tests: with
 * 'ceil' a global 429 costs discord.js at least 1 s, because for global limits it can only use
 * Retry-After), the 429 body's `retry_after` is seconds with decimals.
 */
import { createHash } from 'node:crypto';

export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** Per-route limits; every field is optional in the fake's options and merged over the defaults. */
export interface FakeDiscordLimits {
  /** POST /channels/:id/messages, per channel. Default 5 per 5 s. */
  messagePost: RateLimit;
  /** PATCH /channels/:id/messages/:mid, per channel. Default 5 per 5 s. */
  messageEdit: RateLimit;
  /** POST /channels/:id/typing, per channel. Default 5 per 5 s. */
  typing: RateLimit;
  /** Webhook execute / edit (including interaction followups), per webhook. Default 5 per 2 s. */
  webhook: RateLimit;
  /** Interaction callbacks, per interaction. Default 1000 per 1 s (effectively unlimited). */
  interactionCallback: RateLimit;
  /** Any other route, per route template and major parameter. Default 50 per 1 s. */
  default: RateLimit;
  /** All bot-authenticated requests together. Default 50 per 1 s. Webhooks/interactions are exempt. */
  global: RateLimit;
}

export const DEFAULT_LIMITS: FakeDiscordLimits = {
  messagePost: { limit: 5, windowMs: 5000 },
  messageEdit: { limit: 5, windowMs: 5000 },
  typing: { limit: 5, windowMs: 5000 },
  webhook: { limit: 5, windowMs: 2000 },
  interactionCallback: { limit: 1000, windowMs: 1000 },
  default: { limit: 50, windowMs: 1000 },
  global: { limit: 50, windowMs: 1000 },
};

/** An injected 429, see {@link RateLimiter.force429Next}. */
export interface Forced429 {
  /** How many matching requests get the 429 (default 1). */
  count?: number;
  /** retry_after in ms (default 300). */
  retryAfterMs?: number;
  /** A global 429 (X-RateLimit-Global, scope "global"). Default false. */
  global?: boolean;
  /** X-RateLimit-Scope for non-global 429s: 'user' (default) or 'shared'. */
  scope?: 'user' | 'shared';
  /** Only requests whose method matches (e.g. 'POST'). */
  method?: string;
  /** Only requests whose path (after /api/v10) contains this string or matches this RegExp. */
  path?: string | RegExp;
}

export interface LimitDecision {
  ok: boolean;
  headers: Record<string, string>;
  /** 429 body when !ok. */
  body?: { message: string; retry_after: number; global: boolean; code?: number };
}

interface Window {
  count: number;
  resetAt: number;
}

const secs = (ms: number) => (Math.max(0, ms) / 1000).toFixed(3);

export class RateLimiter {
  private readonly buckets = new Map<string, Window>();
  private global: Window = { count: 0, resetAt: 0 };
  private readonly forced: Array<Required<Pick<Forced429, 'count' | 'retryAfterMs' | 'global' | 'scope'>> & Forced429> = [];

  constructor(
    private readonly limits: FakeDiscordLimits,
    private readonly now: () => number,
    private readonly retryAfterHeader: 'ceil' | 'exact',
  ) {}

  /** Queue injected 429s; they take effect before the real buckets are consulted. */
  force429Next(o: Forced429 = {}): void {
    this.forced.push({ count: 1, retryAfterMs: 300, global: false, scope: 'user', ...o });
  }

  /**
   * Decide one request. `limitName` picks the limit, `template` + `method` name the bucket
   * (its hash is stable for the process, like Discord's), `major` splits it per resource.
   */
  check(method: string, path: string, template: string, major: string, limitName: keyof FakeDiscordLimits, countsGlobal: boolean): LimitDecision {
    const t = this.now();
    const lim = this.limits[limitName];
    const hash = createHash('sha1').update(`${limitName}:${method} ${template}`).digest('hex').slice(0, 32);
    const bucketHeaders = (remaining: number, resetAt: number): Record<string, string> => ({
      'X-RateLimit-Limit': String(lim.limit),
      'X-RateLimit-Remaining': String(remaining),
      'X-RateLimit-Reset': (resetAt / 1000).toFixed(3),
      'X-RateLimit-Reset-After': secs(resetAt - t),
      'X-RateLimit-Bucket': hash,
    });

    const forced = this.forced.find((f) =>
      (!f.method || f.method.toUpperCase() === method) &&
      (!f.path || (typeof f.path === 'string' ? path.includes(f.path) : f.path.test(path))));
    if (forced) {
      if (--forced.count <= 0) this.forced.splice(this.forced.indexOf(forced), 1);
      return forced.global
        ? this.globalLimited(forced.retryAfterMs)
        : this.limited(bucketHeaders(0, t + forced.retryAfterMs), forced.retryAfterMs, forced.scope);
    }

    if (countsGlobal) {
      if (t >= this.global.resetAt) this.global = { count: 0, resetAt: t + this.limits.global.windowMs };
      if (this.global.count >= this.limits.global.limit) return this.globalLimited(this.global.resetAt - t);
      this.global.count++;
    }

    const key = `${hash}:${major}`;
    let w = this.buckets.get(key);
    if (!w || t >= w.resetAt) {
      w = { count: 0, resetAt: t + lim.windowMs };
      this.buckets.set(key, w);
    }
    if (w.count >= lim.limit) return this.limited(bucketHeaders(0, w.resetAt), w.resetAt - t, 'user');
    w.count++;
    return { ok: true, headers: bucketHeaders(lim.limit - w.count, w.resetAt) };
  }

  private retryAfter(ms: number): string {
    return this.retryAfterHeader === 'exact' ? secs(ms) : String(Math.ceil(Math.max(0, ms) / 1000));
  }

  private limited(headers: Record<string, string>, retryMs: number, scope: 'user' | 'shared'): LimitDecision {
    return {
      ok: false,
      headers: { ...headers, 'Retry-After': this.retryAfter(retryMs), 'X-RateLimit-Scope': scope },
      body: { message: 'You are being rate limited.', retry_after: Number(secs(retryMs)), global: false },
    };
  }

  /** Discord's global 429 carries no per-bucket headers, only Retry-After, -Global and -Scope. */
  private globalLimited(retryMs: number): LimitDecision {
    return {
      ok: false,
      headers: { 'Retry-After': this.retryAfter(retryMs), 'X-RateLimit-Global': 'true', 'X-RateLimit-Scope': 'global' },
      body: { message: 'You are being rate limited.', retry_after: Number(secs(retryMs)), global: true },
    };
  }
}
