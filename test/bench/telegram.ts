/**
 * Telegram streaming under Telegram's own limits, scaled 10× faster on both sides (the adapter's
 * budget and the fake Bot API's flood control), so "20 seconds" takes 2. Measures what the
 * issue asks: how many edits a 20-second streamed reply makes, and how many 429s the fake
 * returns while 20 chats stream at once. Everything runs through real telegraf, the real
 * engine and the fake OpenAI server. Note: the fake's retry_after is in whole real seconds and
 * its global window is a fixed real second, so 429s (if any) cost unscaled time.
 */
import type { TelegramTuning } from '../../adapters/telegram/index.js';
import { startWorld, waitFor, type World } from '../adapters/telegram/world.js';
import type { FloodLimits } from '../fakes/telegram.js';

/** Time scale; TELEGRAM_BENCH_SCALE=1 runs in real time (about 3 minutes). */
const S = Number(process.env.TELEGRAM_BENCH_SCALE ?? 0.1);
const STREAM_MS = 20_000 * S; // a "20-second" reply
const WORDS = 200;
const TUNING: Partial<TelegramTuning> = {
  editIntervalMs: 1000 * S,
  firstSendDelayMs: 1000 * S,
  typingIntervalMs: 4000 * S,
  chatWindow: { max: 1, windowMs: 1000 * S },
  groupWindow: { max: 20, windowMs: 60_000 * S, reserve: 4 },
  globalWindow: { max: 30, windowMs: 1000 * S, reserve: 5 },
  stopTimeoutMs: 10_000,
};
const LIMITS: Partial<FloodLimits> = { chatMinIntervalMs: 1000 * S, chatBurst: 1, groupPerWindow: 20, groupWindowMs: 60_000 * S, globalPerSecond: 30 / S };

const reply = Array.from({ length: WORDS }, (_, i) => `w${i}`).join(' ');
const count = (w: World, method: string) => w.fake.calls.filter((c) => c.method === method && c.ok).length;

async function world(drafts = true): Promise<World> {
  const w = await startWorld({ fake: { limits: LIMITS, draftsSupported: drafts }, tuning: TUNING, chunkDelayMs: STREAM_MS / (WORDS - 1), concurrency: 100 });
  w.h.fake.respondWith(reply);
  return w;
}

/** n chats (groups: negative ids; DMs: positive) each ask at once; waits until every final text landed. */
async function streamIn(w: World, chats: number[]): Promise<number> {
  const t0 = performance.now();
  for (const id of chats) {
    const chat = id < 0 ? { id, type: 'supergroup' as const, title: `G${id}` } : { id, type: 'private' as const };
    w.say(id < 0 ? `@${w.fake.bot.username} go` : 'go', { chat, from: { id: Math.abs(id), first_name: 'U' } });
  }
  await waitFor(() => chats.every((id) => w.texts(id).join('') === reply), 120_000, 'all replies complete');
  return (performance.now() - t0) / S;
}

export async function benchTelegram(): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = { 'time scale (both sides)': `${1 / S}× faster; a "20 s" reply streams ${WORDS} words over ${STREAM_MS} ms` };
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s (scaled back)`;

  for (const [label, chatId, drafts] of [['group', -1001, true], ['private chat, edits', 1001, false], ['private chat, drafts', 1002, true]] as const) {
    const w = await world(drafts);
    try {
      const took = await streamIn(w, [chatId]);
      const previews = label.endsWith('drafts') ? `${count(w, 'sendMessageDraft')} drafts + ${count(w, 'sendMessage')} sendMessage` : `${count(w, 'editMessageText')} edits after 1 sendMessage`;
      out[`20 s reply, ${label}`] = `${previews}; 429s: ${w.fake.tooManyRequests}; final landed after ${secs(took)}`;
    } finally {
      await w.close();
    }
  }

  for (const [label, ids, drafts] of [
    ['20 groups at once', Array.from({ length: 20 }, (_, i) => -2000 - i), true],
    ['20 private chats at once (edits)', Array.from({ length: 20 }, (_, i) => 2000 + i), false],
    ['20 private chats at once (drafts)', Array.from({ length: 20 }, (_, i) => 3000 + i), true],
    ['60 groups at once (global 30/s binds)', Array.from({ length: 60 }, (_, i) => -4000 - i), true],
  ] as const) {
    const w = await world(drafts);
    try {
      const took = await streamIn(w, [...ids]);
      const previews = count(w, 'editMessageText') + count(w, 'sendMessageDraft');
      out[label] = `429s from the fake: ${w.fake.tooManyRequests}; previews: ${previews} (${(previews / ids.length).toFixed(1)} per chat); all ${ids.length} complete after ${secs(took)}`;
    } finally {
      await w.close();
    }
  }
  return out;
}
