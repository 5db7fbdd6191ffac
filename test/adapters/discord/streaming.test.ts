/**
 * Streaming answers by edits under Discord's limits (scaled down 10×, fake and adapter alike):
 * typing first, coalesced edits inside the per-channel buckets, no 429 reaching us, the final
 * text complete, and long answers split at 2,000 characters on sentence and code boundaries.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RestCall } from '../../fakes/discord.js';
import { alice, startDiscord, type Setup } from './helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const sentences = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `Sentence number ${i + from} tells a little more of the story.`).join(' ');

/** Most channel writes (posts + edits) that fell inside any `windowMs` span. */
function busiestWindow(calls: RestCall[], channelId: string, windowMs: number): number {
  const times = calls.filter((c) => c.status === 200 && c.path.startsWith(`/channels/${channelId}/messages`) && c.method !== 'GET').map((c) => c.at);
  return Math.max(0, ...times.map((t) => times.filter((u) => u >= t && u < t + windowMs).length));
}

describe('discord adapter: streaming', () => {
  it('streams by edits within the buckets: typing first, no 429, final text complete', async () => {
    s = await startDiscord();
    const { fake, h, texts } = s;
    const ch = fake.guild.channelId;
    const answer = sentences(18); // ~1,000 characters, ~200 deltas
    h.fake.respondWith(answer);
    h.fake.setChunkDelay(4);
    fake.userMessage({ author: alice, channelId: ch, content: 'tell me a story', mentionsBot: true });
    await fake.waitFor(() => texts(ch)[0] === answer, 10_000);

    const [msg] = fake.channelMessages(ch);
    expect(texts(ch)).toHaveLength(1);
    expect(msg!.edits).toBeGreaterThanOrEqual(2); // it was visibly streamed…
    expect(msg!.edits).toBeLessThan(40); // …in coalesced steps, not one edit per delta (~200)
    expect(fake.tooManyRequests).toBe(0);
    expect(busiestWindow(fake.calls, ch, 500)).toBeLessThanOrEqual(5);
    const firstTyping = fake.calls.findIndex((c) => c.path === `/channels/${ch}/typing`);
    const firstPost = fake.calls.findIndex((c) => c.method === 'POST' && c.path === `/channels/${ch}/messages`);
    expect(firstTyping).toBeGreaterThanOrEqual(0);
    expect(firstTyping).toBeLessThan(firstPost);
    expect(s.adapter.status().rateLimited).toBe(0);
  });

  it('an unexpected 429 on an edit is waited out by discord.js; the final text still lands', async () => {
    s = await startDiscord();
    const { fake, h, texts } = s;
    const ch = fake.guild.channelId;
    const answer = sentences(12);
    h.fake.respondWith(answer);
    h.fake.setChunkDelay(4);
    fake.force429Next({ method: 'PATCH', path: '/messages/', retryAfterMs: 150, count: 2 });
    fake.userMessage({ author: alice, channelId: ch, content: 'go', mentionsBot: true });
    await fake.waitFor(() => texts(ch)[0] === answer, 10_000);
    expect(fake.tooManyRequests).toBe(2);
    expect(texts(ch)).toEqual([answer]);
    expect(fake.calls.filter((c) => c.status >= 400 && c.status !== 429)).toEqual([]);
  });

  it('splits a 4,500-character answer into messages of at most 2,000 at sentence boundaries', async () => {
    s = await startDiscord();
    const { fake, h, texts } = s;
    const ch = fake.guild.channelId;
    let answer = sentences(100);
    answer = answer.slice(0, answer.lastIndexOf('.', 4500) + 1);
    expect(answer.length).toBeGreaterThan(4400);
    h.fake.respondWith(answer);
    h.fake.setChunkDelay(1);
    fake.userMessage({ author: alice, channelId: ch, content: 'long please', mentionsBot: true });
    await fake.waitFor(() => texts(ch).length === 3 && texts(ch).join(' ') === answer, 10_000);
    for (const t of texts(ch)) {
      expect(t.length).toBeLessThanOrEqual(2000);
      expect(t.endsWith('.')).toBe(true);
    }
    expect(fake.channelMessages(ch)[0]?.replyTo).toBeDefined(); // only the first quotes the question
    expect(fake.channelMessages(ch)[1]?.replyTo).toBeUndefined();
    expect(fake.calls.filter((c) => c.status >= 400)).toEqual([]); // no preview ever exceeded 2,000
  });

  it('keeps code blocks renderable when a split falls inside one', async () => {
    s = await startDiscord();
    const { fake, h, texts } = s;
    const dm = fake.userMessage({ author: alice, content: 'warm up' });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    const code = Array.from({ length: 120 }, (_, i) => `const value${i} = compute(${i}); // step ${i}`).join('\n');
    const answer = `Here is the script:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nRun it with tsx.`;
    expect(answer.length).toBeGreaterThan(4000);
    h.fake.respondWith(answer);
    fake.userMessage({ author: alice, content: 'code please' });
    await fake.waitFor(() => texts(dm.channel_id).length >= 4 && texts(dm.channel_id).at(-1)!.endsWith('Run it with tsx.'), 10_000);
    const parts = texts(dm.channel_id).slice(1);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(2000);
      expect((p.match(/```/g) ?? []).length % 2).toBe(0); // every message opens and closes its fence
    }
    expect(parts.slice(1).every((p) => p.startsWith('```ts') || !p.includes('const value'))).toBe(true);
    expect(parts.join('\n').match(/const value\d+/g)).toHaveLength(120);
  });
});
