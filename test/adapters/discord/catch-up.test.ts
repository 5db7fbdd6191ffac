/**
 * Discord does not deliver again what it dispatched while no process was connected: a new
 * gateway session only sees what comes after it. So a restarted adapter reads back, over REST,
 * what was sent since the newest message it had handled in each recently active channel, and
 * answers it — once, in order, before the channel's newer live messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DiscordAdapter } from '../../../adapters/discord/index.js';
import type { ManualClock } from '../../../src/core/clock.js';
import { alice, bob, startDiscord, type Setup } from './helpers.js';

let s: Setup | undefined;
let next: DiscordAdapter | undefined;
afterEach(async () => {
  await next?.stop();
  next = undefined;
  await s?.close();
  s = undefined;
});

describe('discord adapter: messages sent while no process listened', () => {
  it('are answered by the next start, once each and in order, before the live message after them', async () => {
    // Identifies barely limited: two starts in a row (one too soon waits out op 9 for seconds).
    s = await startDiscord({ catchUp: true, fake: { shards: { identifyWindowMs: 1 } } });
    const { fake, texts, idle } = s;
    const first = fake.userMessage({ author: alice, content: 'hello' });
    const dm = first.channel_id as string;
    await fake.waitFor(() => texts(dm).length === 1);
    const ch = fake.guild.channelId;
    fake.userMessage({ author: bob, channelId: ch, content: 'hi all', mentionsBot: true });
    await fake.waitFor(() => texts(ch).length === 1);
    await idle();

    // A deploy: the process stops (its gateway session ends), messages arrive, the next one starts.
    await s.adapter.stop();
    fake.userMessage({ author: alice, content: 'are you there?' });
    fake.userMessage({ author: alice, content: 'hello again' });
    fake.userMessage({ author: bob, channelId: ch, content: 'anyone?', mentionsBot: true });
    fake.userMessage({ author: bob, channelId: ch, content: 'just chatting among ourselves' });
    expect(fake.gatewayStats().liveSockets).toBe(0);

    const before = fake.calls.length;
    next = s.newAdapter();
    await next.start();
    // Sent the moment the new process listens: it follows the ones it missed.
    fake.userMessage({ author: alice, content: 'live one' });
    await fake.waitFor(() => texts(dm).length === 4 && texts(ch).length === 2, 10_000);
    await fake.idle();
    await next.settled();
    expect(texts(dm)).toEqual(['Echo: hello', 'Echo: are you there?', 'Echo: hello again', 'Echo: live one']);
    expect(texts(ch)).toEqual(['Echo: bob: hi all', 'Echo: bob: anyone?']);
    // The reads went through the budget with the posts, so the bot-wide window (shared by the
    // instances) counts them: one page per channel, and the DM channel looked up first.
    const since = fake.calls.slice(before);
    const reads = since.filter((c) => c.method === 'GET' && /^\/channels\/\d+(\/messages)?$/.test(c.path));
    const posts = since.filter((c) => (c.method === 'POST' || c.method === 'PATCH') && /^\/channels\/\d+\/messages(\/\d+)?$/.test(c.path));
    expect(reads.filter((c) => c.path.endsWith('/messages'))).toHaveLength(2);
    expect(next.status().sent).toBe(reads.length + posts.length);
  });

  it('are not read back on a first start, or where nothing was handled lately', async () => {
    // Identifies barely limited: two starts in a row (one too soon waits out op 9 for seconds).
    s = await startDiscord({ catchUp: true, fake: { shards: { identifyWindowMs: 1 } } });
    const { fake, texts } = s;
    const reads = () => fake.calls.filter((c) => c.method === 'GET' && /^\/channels\/\d+\/messages$/.test(c.path)).length;
    expect(reads()).toBe(0);
    const m = fake.userMessage({ author: alice, content: 'hello' });
    await fake.waitFor(() => texts(m.channel_id).length === 1);
    await s.adapter.stop();
    // A day later (the default reach), nothing recent is left to read back.
    (s.h.clock as ManualClock).advance(25 * 3_600_000);
    next = s.newAdapter();
    await next.start();
    await next.settled();
    expect(reads()).toBe(0);
  });
});
