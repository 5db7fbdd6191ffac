import { z } from 'zod';
import { bool, list, optionalUrl } from '../../src/core/config-values.js';

/** A Discord bot: its token, another REST origin, per-guild commands and character webhooks. */
export const discordConfigSchema = z.object({
  token: z.string().min(1),
  /** Another REST origin (the test fake, a proxy): `http://host:port` or `…/api`. */
  apiUrl: optionalUrl,
  /** Register commands in these guilds only (instant updates) instead of globally. */
  guildIds: list.default([]),
  /** Speak through per-character webhooks (name and avatar); needs Manage Webhooks. */
  characterWebhooks: bool.default(false),
});

export type DiscordConfig = z.infer<typeof discordConfigSchema>;
