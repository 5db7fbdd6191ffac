/**
 * Per-character webhooks (DISCORD_CHARACTER_WEBHOOKS=true): the character speaks under its own
 * name and avatar instead of the bot's. Each channel gets one webhook per character, named after
 * it, created on first use and reused afterwards (also across restarts: our application's
 * webhooks are listed before creating one). Needs Manage Webhooks; where that is missing, or the
 * channel's webhook limit is reached, the bot falls back to speaking as itself — a reply is never
 * lost to a webhook problem.
 */
import type { Log } from '../../src/core/adapter.js';
import { discordErrorKind, type DcWebhook, type DiscordTransport } from './transport.js';

/** Discord refuses webhook names and usernames containing these words (50035). */
const RESERVED = /discord|clyde/gi;

export class CharacterWebhooks {
  /** Ids of every webhook we speak through: a reply to one of their messages is a reply to the bot. */
  readonly ids = new Set<string>();
  private readonly hooks = new Map<string, Promise<DcWebhook | undefined>>();
  private readonly refused = new Set<string>();

  constructor(
    private readonly transport: Pick<DiscordTransport, 'ownWebhooks' | 'createWebhook'>,
    private readonly applicationId: () => string,
    private readonly log: Log,
  ) {}

  /** A name Discord accepts for `name` (1–80 characters, without the reserved words). */
  displayName(name: string): string {
    const clean = name.replace(RESERVED, (w) => `${w[0]}\u200b${w.slice(1)}`).trim().slice(0, 80);
    return clean || 'charbridge';
  }

  /** The webhook to speak as `characterName` in a (non-thread) channel, or undefined to speak as the bot. */
  forChannel(channelId: string, characterName: string): Promise<DcWebhook | undefined> {
    if (this.refused.has(channelId)) return Promise.resolve(undefined);
    const key = `${channelId}\n${characterName}`;
    let hook = this.hooks.get(key);
    if (!hook) {
      hook = this.resolve(channelId, this.displayName(characterName)).catch((err: unknown) => {
        this.hooks.delete(key);
        if (discordErrorKind(err) === 'forbidden') this.refused.add(channelId);
        this.log.warn({ err, channelId }, 'discord webhook unavailable (Manage Webhooks missing?); speaking as the bot');
        return undefined;
      });
      this.hooks.set(key, hook);
    }
    return hook;
  }

  private async resolve(channelId: string, name: string): Promise<DcWebhook> {
    const own = await this.transport.ownWebhooks(channelId, this.applicationId());
    for (const w of own) this.ids.add(w.id);
    let hook = own.find((w) => w.name === name);
    if (!hook) {
      try {
        hook = await this.transport.createWebhook(channelId, name);
      } catch (err) {
        // Most likely the channel's webhook limit: any of ours can still post under the character's name.
        hook = own[0];
        if (!hook) throw err;
      }
    }
    this.ids.add(hook.id);
    return hook;
  }
}
