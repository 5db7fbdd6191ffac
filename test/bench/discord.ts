/**
 * Discord streaming under Discord's own limits, scaled 10× faster on both sides (the adapter's
 * budget and the fake's per-route buckets), so "20 seconds" takes 2. Measures how many posts and
 * edits a 20-second streamed reply makes, how many 429s the fake answers, and what happens when
 * 20 DMs stream at once (the bot-wide 50 requests/s, scaled too). Everything runs through real discord.js, the real engine and the fake OpenAI server.
 */
import type { DiscordTuning } from '../../adapters/discord/index.js';
import { alice, startDiscord, type Setup } from '../adapters/discord/helpers.js';

/** Time scale; DISCORD_BENCH_SCALE=1 runs in real time (about 2 minutes). */
const S = Number(process.env.DISCORD_BENCH_SCALE ?? 0.1);
const STREAM_MS = 20_000 * S;
const WORDS = 200;
const TUNING: Partial<DiscordTuning> = {
  editIntervalMs: 1000 * S,
  firstSendDelayMs: 1000 * S,
  typingIntervalMs: 8000 * S,
  typingWindow: { max: 5, windowMs: 5000 * S },
  channelWindow: { max: 5, windowMs: 5000 * S, reserve: 1 },
  interactionWindow: { max: 5, windowMs: 2000 * S, reserve: 1 },
  globalWindow: { max: 50, windowMs: 1000 * S, reserve: 10 },
  deferAfterMs: 2500 * S,
};
const LIMITS = {
  messagePost: { limit: 5, windowMs: 5000 * S },
  messageEdit: { limit: 5, windowMs: 5000 * S },
  typing: { limit: 5, windowMs: 5000 * S },
  webhook: { limit: 5, windowMs: 2000 * S },
  global: { limit: 50, windowMs: 1000 * S },
};

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
const secs = (ms: number) => `${(ms / S / 1000).toFixed(1)} s (scaled back)`;
/** How long after the model's last token the final text was visible, worst case over `ids`. */
const lag = (s: Setup, landedAt: number, ids: string[]) => secs(landedAt - Math.min(...ids.map((id) => s.modelDoneAt.get(id) ?? landedAt)));

async function world(reply: string, chunkDelayMs: number): Promise<Setup> {
  const s = await startDiscord({ fake: { limits: LIMITS }, tuning: TUNING, concurrency: 100 });
  s.h.fake.respondWith(reply);
  s.h.fake.setChunkDelay(chunkDelayMs);
  return s;
}

const writes = (s: Setup, method: string, pathPart: string) =>
  s.fake.calls.filter((c) => c.method === method && c.status === 200 && c.path.includes(pathPart)).length;

export async function benchDiscord(): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = { 'time scale (both sides)': `${1 / S}× faster; a "20 s" reply streams ${WORDS} words over ${STREAM_MS} ms` };
  const reply = words(WORDS);

  {
    const s = await world(reply, STREAM_MS / (WORDS - 1));
    try {
      const ch = s.fake.guild.channelId;
      const t0 = performance.now();
      const m = s.fake.userMessage({ author: alice, channelId: ch, content: 'go', mentionsBot: true });
      await s.fake.waitFor(() => s.texts(ch)[0] === reply, 120_000);
      const took = performance.now() - t0;
      out['20 s reply in a channel'] = `${writes(s, 'POST', '/messages')} post + ${writes(s, 'PATCH', '/messages/')} edits; 429s: ${s.fake.tooManyRequests}; final landed after ${secs(took)}, ${lag(s, t0 + took, [m.id])} after the last token`;
    } finally {
      await s.close();
    }
  }

  {
    const long = Array.from({ length: 100 }, (_, i) => `Sentence ${i} adds a little more to a long answer.`).join(' ');
    const s = await world(long, STREAM_MS / 800);
    try {
      const ch = s.fake.guild.channelId;
      const t0 = performance.now();
      const m = s.fake.userMessage({ author: alice, channelId: ch, content: 'long', mentionsBot: true });
      await s.fake.waitFor(() => s.texts(ch).join(' ') === long, 120_000);
      const landed = performance.now();
      out[`${long.length}-character reply`] = `${s.texts(ch).length} messages (${s.texts(ch).map((t) => t.length).join(' + ')} chars), ${writes(s, 'PATCH', '/messages/')} edits; 429s: ${s.fake.tooManyRequests}; complete after ${secs(landed - t0)}, ${lag(s, landed, [m.id])} after the last token`;
    } finally {
      await s.close();
    }
  }

  {
    const s = await world(reply, STREAM_MS / (WORDS - 1));
    try {
      const users = Array.from({ length: 20 }, (_, i) => ({ id: `5${String(i).padStart(17, '0')}`, username: `u${i}` }));
      const t0 = performance.now();
      const sent = users.map((u) => s.fake.userMessage({ author: u, content: 'go' }));
      const dms = sent.map((m) => m.channel_id as string);
      await s.fake.waitFor(() => dms.every((d) => s.texts(d)[0] === reply), 120_000);
      const landed = performance.now();
      const edits = writes(s, 'PATCH', '/messages/');
      out['20 DMs streaming at once'] = `429s: ${s.fake.tooManyRequests}; edits: ${edits} (${(edits / dms.length).toFixed(1)} per reply); all complete after ${secs(landed - t0)}, the last ${lag(s, landed, sent.map((m) => m.id))} after its model finished`;
    } finally {
      await s.close();
    }
  }

  {
    const s = await world(reply, STREAM_MS / (WORDS - 1));
    try {
      const c = s.fake.slashCommand({ name: 'chat', user: alice, options: [{ name: 'message', type: 3, value: 'go' }] });
      const t0 = performance.now();
      await s.fake.waitFor(() => s.fake.interactionResponses(c.token).at(-1)?.message?.content === reply, 120_000);
      const landed = performance.now();
      const rs = s.fake.interactionResponses(c.token);
      out['20 s reply to /chat'] = `${rs.filter((r) => r.kind === 'editOriginal').length} edits of the deferred response; 429s: ${s.fake.tooManyRequests}; final landed after ${secs(landed - t0)}, ${lag(s, landed, [c.id])} after the last token`;
    } finally {
      await s.close();
    }
  }
  return out;
}
