/**
 * Discord's sharding rules as the fake gateway enforces them (Discord docs, "Sharding" and
 * "Gateway Close Event Codes"):
 * - IDENTIFY carries `shard: [shard_id, num_shards]` (absent: [0, 1]); a guild's events go to the
 *   shard `(guild_id >> 22) % num_shards`, DMs to shard 0 only.
 * - A shard that is not two whole numbers with 0 ≤ id < count is closed with 4010 (invalid shard);
 *   a session that would hold more than `maxGuildsPerShard` guilds (Discord: 2,500) with 4011
 *   (sharding required). Both are fatal for discord.js: `login()` rejects.
 * - Session starts: one IDENTIFY per `windowMs` (Discord: 5 s) per bucket
 *   `shard_id % max_concurrency`, counted for the whole bot whichever connection sends it. Discord
 *   answers an IDENTIFY over that limit with op 9 INVALID_SESSION (`d: false`) and starts no
 *   session; the fake does the same and counts it, so a test can assert there were none.
 */

/** The shard a guild's events go to. */
export function shardOf(guildId: string, count: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(count));
}

export interface ShardRules {
  /** Discord's `session_start_limit.max_concurrency` (1 for all but very large bots). */
  maxConcurrency: number;
  /** One IDENTIFY per bucket per this many ms (Discord: 5000). */
  identifyWindowMs: number;
  /** More guilds than this on one session → close 4011 (Discord: 2500). */
  maxGuildsPerShard: number;
}

export type ShardVerdict = { ok: true; shard: [number, number] } | { ok: false; code: 4010 | 4011; reason: string };

/** Judge the `shard` field of an IDENTIFY against the bot's guilds. */
export function judgeShard(field: unknown, guildIds: readonly string[], rules: ShardRules): ShardVerdict {
  const shard = field === undefined || field === null ? [0, 1] : field;
  const whole = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);
  if (!Array.isArray(shard) || shard.length !== 2 || !whole(shard[0]) || !whole(shard[1]) || shard[1] < 1 || shard[0] < 0 || shard[0] >= shard[1]) {
    return { ok: false, code: 4010, reason: 'Invalid shard.' };
  }
  const [id, count] = shard as [number, number];
  const held = guildIds.filter((g) => shardOf(g, count) === id).length;
  if (held > rules.maxGuildsPerShard) return { ok: false, code: 4011, reason: 'Sharding required.' };
  return { ok: true, shard: [id, count] };
}

/**
 * The smallest shard count with no shard over the limit: what GET /gateway/bot recommends. Guilds
 * created in the same millisecond share a shard at every count, so the search stops at one shard
 * per guild.
 */
export function recommendedShards(guildIds: readonly string[], maxGuildsPerShard: number): number {
  const most = Math.max(1, guildIds.length);
  for (let count = 1; count < most; count++) {
    const held = new Map<number, number>();
    for (const g of guildIds) held.set(shardOf(g, count), (held.get(shardOf(g, count)) ?? 0) + 1);
    if (Math.max(0, ...held.values()) <= maxGuildsPerShard) return count;
  }
  return most;
}

/** Session starts per bucket, for the whole bot. */
export class IdentifyLimiter {
  private readonly lastAt = new Map<number, number>();
  /** IDENTIFYs refused for coming too soon after another of their bucket. */
  refused = 0;

  constructor(private readonly rules: ShardRules, private readonly now: () => number) {}

  /** Whether a session may start for `shardId` now; a refused attempt does not move the window. */
  take(shardId: number): boolean {
    const bucket = shardId % this.rules.maxConcurrency;
    const last = this.lastAt.get(bucket);
    const t = this.now();
    if (last !== undefined && t - last < this.rules.identifyWindowMs) {
      this.refused++;
      return false;
    }
    this.lastAt.set(bucket, t);
    return true;
  }
}
