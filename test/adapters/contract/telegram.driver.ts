/**
 * Telegram for the contract suite: long polling against the fake Bot API (test/adapters/telegram/
 * world.ts, limits scaled 20×). DMs are private chats with new users; the group is a forum
 * supergroup's General chat and threads are its topics, so a topic is told apart from its own chat.
 */
import type { TelegramTarget } from '../../../adapters/telegram/keys.js';
import { FORUM, startWorld, waitFor } from '../telegram/world.js';
import type { ContractWorld, Place, PlatformDriver, Sent } from './driver.js';

interface TgPlace {
  chatId: number;
  threadId?: number;
  from: { id: number; first_name: string };
}

const ANN = { id: 42, first_name: 'Ann' };

export const telegramDriver: PlatformDriver = {
  platform: 'telegram',
  mode: 'polling',
  async start(): Promise<ContractWorld> {
    const w = await startWorld();
    let nextUser = 100;
    let nextTopic = 10;
    const at = `@${w.fake.bot.username}`;
    const placeOf = (p: Place) => p.ref as TgPlace;
    const updateOf = (s: Sent) => s.ref as { update_id: number; message: { message_id: number } };
    const world: ContractWorld = {
      adapter: w.adapter,
      model: w.h.fake,
      userName: ANN.first_name,
      maxMessageLength: 4096,
      place(kind) {
        if (kind === 'dm') {
          const id = nextUser++;
          return { kind, ref: { chatId: id, from: { id, first_name: 'Ann' } } satisfies TgPlace };
        }
        return { kind, ref: { chatId: FORUM.id, from: ANN, ...(kind === 'thread' ? { threadId: nextTopic++ } : {}) } satisfies TgPlace };
      },
      async say(place, text, o = {}) {
        const p = placeOf(place);
        const chat = place.kind === 'dm' ? { id: p.chatId, type: 'private' as const } : FORUM;
        const addressed = place.kind !== 'dm' && o.addressed !== false ? `${at} ${text}` : text;
        const update = w.fake.userMessage({ chat, from: p.from, text: addressed, ...(p.threadId ? { threadId: p.threadId } : {}) });
        return { place, ref: update };
      },
      async redeliver(sent) {
        w.fake.redeliver(updateOf(sent));
      },
      async command(place, name) {
        const before = w.texts(placeOf(place).chatId, placeOf(place).threadId).length;
        await world.say(place, `/${name}`, { addressed: false });
        await waitFor(() => w.texts(placeOf(place).chatId, placeOf(place).threadId).length > before);
        return w.texts(placeOf(place).chatId, placeOf(place).threadId)[before]!;
      },
      texts: (place) => w.texts(placeOf(place).chatId, placeOf(place).threadId),
      async idle() {
        await w.fake.idle();
        await w.adapter.settled();
      },
      rateLimitNext: () => w.fake.rateLimitNext(1),
      get tooManyRequests() {
        return w.fake.tooManyRequests;
      },
      keyOf(sent) {
        const p = placeOf(sent.place);
        return { platform: 'telegram', chatId: String(p.chatId), ...(p.threadId ? { threadId: String(p.threadId) } : {}) };
      },
      targetOf(sent): TelegramTarget {
        const p = placeOf(sent.place);
        return { chatId: p.chatId, ...(p.threadId ? { threadId: p.threadId } : {}), isPrivate: sent.place.kind === 'dm' };
      },
      conversation: async (key) => (await w.h.store.conversations.getByScope(key)) ?? undefined,
      close: () => w.close(),
    };
    return world;
  },
};
