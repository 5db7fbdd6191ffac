import { z } from 'zod';
import { bool, list, optionalUrl } from '../../src/core/config-values.js';

/**
 * Shard ids as ranges and single ids, `0-9` or `0,2,4` or `0-3,8`, sorted and without repeats.
 * Blank means every shard of `DISCORD_SHARD_COUNT` (discord.js's default).
 */
const shardList = z
  .string()
  .transform((s, ctx) => {
    const ids = new Set<number>();
    for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
      const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
      const from = m ? Number(m[1]) : NaN;
      const to = m?.[2] !== undefined ? Number(m[2]) : from;
      if (!m || to < from || to - from > 100_000) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not a shard id or range (use e.g. 0-9 or 0,2,4)` });
        return z.NEVER;
      }
      for (let i = from; i <= to; i++) ids.add(i);
    }
    return ids.size ? [...ids].sort((a, b) => a - b) : undefined;
  });

/** The total number of shards over all instances, or `auto`: Discord's recommendation, all run here. */
const shardCount = z.union([
  z.literal('auto'),
  z.coerce.number({ message: 'must be a whole number of shards (at least 1) or auto' }).int().min(1).max(100_000),
]);

/** A Discord bot: its token, another REST origin, per-guild commands, character webhooks and shards. */
export const discordConfigSchema = z
  .object({
    token: z.string().min(1),
    /** Another REST origin (the test fake, a proxy): `http://host:port` or `…/api`. */
    apiUrl: optionalUrl,
    /** Register commands in these guilds only (instant updates) instead of globally. */
    guildIds: list.default([]),
    /** Speak through per-character webhooks (name and avatar); needs Manage Webhooks. */
    characterWebhooks: bool.default(false),
    /**
     * The shards this instance runs (`DISCORD_SHARDS`); unset: all of them. Instances of one bot
     * split the ids between them; DMs arrive on shard 0 only, so its instance answers them.
     */
    shards: shardList.optional(),
    /** The total shard count over all instances (`DISCORD_SHARD_COUNT`); unset: 1 (discord.js's default). */
    shardCount: shardCount.optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.shards) return;
    // discord.js would take the list's length as the total, which is wrong for a part of the shards.
    if (c.shardCount === undefined) {
      ctx.addIssue({ code: 'custom', path: ['shardCount'], message: 'must be set with DISCORD_SHARDS: the total number of shards over all instances' });
    } else if (c.shardCount === 'auto') {
      ctx.addIssue({ code: 'custom', path: ['shardCount'], message: 'cannot be auto with DISCORD_SHARDS: give the total number of shards over all instances' });
    } else if (c.shards.some((id) => id >= (c.shardCount as number))) {
      ctx.addIssue({ code: 'custom', path: ['shards'], message: `has ids beyond DISCORD_SHARD_COUNT=${c.shardCount} (ids run from 0 to ${c.shardCount - 1})` });
    }
  });

export type DiscordConfig = z.infer<typeof discordConfigSchema>;
