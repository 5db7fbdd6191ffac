/**
 * Discord for the contract suite: real discord.js against the fake gateway and REST
 * (test/adapters/discord/helpers.ts, limits scaled 10×). DMs are with new users; the group is the
 * fake guild's text channel and the thread is the thread inside it. discord.js keeps no message
 * cache here, so a replayed MESSAGE_CREATE reaches the adapter as it would after a cache sweep.
 */
import type { DiscordTarget } from '../../../adapters/discord/keys.js';
import { alice, startDiscord } from '../discord/helpers.js';
import type { ContractWorld, Place, PlatformDriver } from './driver.js';

interface DcPlace {
  /** Where the user writes; for a DM, known after the first message. */
  channelId: string | undefined;
  user: { id: string; username: string };
  /** The thread's parent channel. */
  parentId?: string;
}

/** Discord's channel types in MESSAGE_CREATE: 0 guild text, 1 DM, 11 public thread. */
const CHANNEL_TYPE = { dm: 1, group: 0, thread: 11 } as const;

export const discordDriver: PlatformDriver = {
  platform: 'discord',
  mode: 'gateway',
  async start(): Promise<ContractWorld> {
    const s = await startDiscord({ tuning: { messageCacheSize: 0 } });
    const { fake } = s;
    let nextUser = 500000000000000000n;
    const placeOf = (p: Place) => p.ref as DcPlace;
    const channelOf = (p: Place) => {
      const id = placeOf(p).channelId;
      if (!id) throw new Error('nothing was said in this DM yet');
      return id;
    };
    return {
      adapter: s.adapter,
      model: s.h.fake,
      userName: alice.username,
      maxMessageLength: 2000,
      place(kind) {
        if (kind === 'dm') {
          const id = String(nextUser++);
          return { kind, ref: { channelId: undefined, user: { id, username: `user${id.slice(-4)}` } } satisfies DcPlace };
        }
        if (kind === 'group') return { kind, ref: { channelId: fake.guild.channelId, user: alice } satisfies DcPlace };
        return { kind, ref: { channelId: fake.guild.threadId, parentId: fake.guild.channelId, user: alice } satisfies DcPlace };
      },
      async say(place, text, o = {}) {
        const p = placeOf(place);
        const msg = fake.userMessage({
          author: p.user,
          content: text,
          ...(place.kind === 'dm' ? { guildId: null } : { channelId: p.channelId, mentionsBot: o.addressed !== false }),
        });
        p.channelId ??= msg.channel_id as string;
        return { place, ref: msg };
      },
      async redeliver(sent) {
        fake.dispatchRaw('MESSAGE_CREATE', { ...(sent.ref as object), channel_type: CHANNEL_TYPE[sent.place.kind] });
      },
      async command(place, name) {
        const p = placeOf(place);
        const c = fake.slashCommand({ name, user: p.user, ...(place.kind === 'dm' ? { guildId: null } : { channelId: p.channelId }) });
        const answer = () => fake.interactionResponses(c.token).find((r) => !(r.kind === 'callback' && r.type === 5) && (r.message?.content ?? r.data?.content));
        await fake.waitFor(() => answer() !== undefined);
        const r = answer()!;
        return String(r.message?.content ?? r.data?.content);
      },
      texts: (place) => s.texts(channelOf(place)),
      idle: () => s.idle(),
      rateLimitNext: () => fake.force429Next({ method: 'POST', path: /\/channels\/\d+\/messages$/, retryAfterMs: 100, count: 1 }),
      get tooManyRequests() {
        return fake.tooManyRequests;
      },
      keyOf(sent) {
        const p = placeOf(sent.place);
        const channel = channelOf(sent.place);
        return { platform: 'discord', ...(p.parentId ? { chatId: p.parentId, threadId: channel } : { chatId: channel }) };
      },
      targetOf(sent): DiscordTarget {
        const p = placeOf(sent.place);
        return { channelId: channelOf(sent.place), ...(p.parentId ? { parentId: p.parentId } : {}) };
      },
      conversation: async (key) => (await s.h.store.conversations.getByScope(key)) ?? undefined,
      close: () => s.close(),
    };
  },
};
