/**
 * Slack's Web API rate limits, modelled as sliding windows. Slack answers an over-limit call
 * with HTTP 429 and a `Retry-After` header in whole seconds; the WebClient honours it
 * (pauses its queue, then retries), so an adapter that bursts still "works" but slowly —
 * the fake makes that visible by counting 429s.
 */

/** At most `limit` accepted calls in any `windowMs`, counted per channel or per workspace. */
export interface RateLimit {
  limit: number;
  windowMs: number;
  /** `channel`: one window per `channel` param (chat.postMessage); `workspace`: one for the whole app (Tier 1–4). */
  scope: 'channel' | 'workspace';
}

/** Limits by Web API method name. `null` switches a default off. */
export type SlackLimits = Partial<Record<string, RateLimit | null>>;

/**
 * Defaults taken from Slack's published tiers. chat.postMessage is "about one message per
 * second per channel, short bursts allowed": a 3-in-3-seconds window gives a sustained 1/s
 * with bursts of 3. Tier 2 = 20/min, Tier 3 = 50/min, Tier 4 = 100/min. The streaming
 * methods' tiers are from the method pages (stopStream: Tier 2) and SDK tier tables
 * (startStream: Tier 2, appendStream: Tier 4). conversations.history and .replies: Tier 3 for
 * internal apps, which a self-hosted bot is.
 */
export const DEFAULT_SLACK_LIMITS: Readonly<Record<string, RateLimit>> = {
  'chat.postMessage': { limit: 3, windowMs: 3_000, scope: 'channel' },
  'chat.update': { limit: 50, windowMs: 60_000, scope: 'workspace' },
  'chat.startStream': { limit: 20, windowMs: 60_000, scope: 'workspace' },
  'chat.appendStream': { limit: 100, windowMs: 60_000, scope: 'workspace' },
  'chat.stopStream': { limit: 20, windowMs: 60_000, scope: 'workspace' },
  'users.info': { limit: 100, windowMs: 60_000, scope: 'workspace' },
  'conversations.history': { limit: 50, windowMs: 60_000, scope: 'workspace' },
  'conversations.replies': { limit: 50, windowMs: 60_000, scope: 'workspace' },
};

/** Merge user limits over the defaults; a `null` entry removes the default for that method. */
export function resolveLimits(overrides: SlackLimits = {}): Record<string, RateLimit> {
  const out: Record<string, RateLimit> = { ...DEFAULT_SLACK_LIMITS };
  for (const [method, limit] of Object.entries(overrides)) {
    if (limit === null) delete out[method];
    else if (limit !== undefined) out[method] = limit;
  }
  return out;
}

/** Sliding-window counter over an injectable clock, so tests can step time instead of sleeping. */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limits: Record<string, RateLimit>,
    private readonly now: () => number,
  ) {}

  /**
   * Count a call if it fits. Returns 0 when it may proceed, otherwise the `Retry-After` in
   * whole seconds (≥ 1, as Slack sends it) until the oldest call in the window expires.
   * Refused calls are not counted, like Slack.
   */
  take(method: string, channel: string | undefined): number {
    const limit = this.limits[method];
    if (limit === undefined) return 0;
    const key = limit.scope === 'channel' ? `${method}:${channel ?? ''}` : method;
    const t = this.now();
    const recent = (this.hits.get(key) ?? []).filter((at) => at > t - limit.windowMs);
    this.hits.set(key, recent);
    const oldest = recent[0];
    if (recent.length >= limit.limit && oldest !== undefined) {
      return Math.max(1, Math.ceil((oldest + limit.windowMs - t) / 1000));
    }
    recent.push(t);
    return 0;
  }
}
