import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inbound, say, seen, startHarness, type Harness } from '../helpers/harness.js';
import { CLEARED_TEXT, MODEL_FAILURE_TEXT, REFUSAL_TEXT, UNSUPPORTED_MEDIA_TEXT } from '../../src/engine/index.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ maxRetries: 0 });
});
afterEach(async () => {
  await h.close();
});

describe('conversation mapping', () => {
  it('remembers a DM conversation across turns', async () => {
    const first = await say(h.engine, inbound({ text: 'my name is Sam' }));
    expect(first.reply).toBe('Echo: my name is Sam');
    await say(h.engine, inbound({ text: 'what is my name?' }));
    const ctx = seen(h.fake);
    expect(ctx[0]).toMatch(/^system: You are Aria\./);
    expect(ctx).toContain('user: my name is Sam');
    expect(ctx).toContain('assistant: Echo: my name is Sam');
    expect(ctx.at(-1)).toBe('user: what is my name?');
  });

  it('keeps DMs of different users apart', async () => {
    await say(h.engine, inbound({ chatId: '1', userId: '1', text: 'I am one' }));
    await say(h.engine, inbound({ chatId: '2', userId: '2', text: 'I am two' }));
    expect(seen(h.fake).join('\n')).not.toContain('I am one');
  });

  it('shares one conversation in a group by default, with speaker names', async () => {
    const g = { chatId: '-100', chatType: 'group' as const, mentioned: true };
    await say(h.engine, inbound({ ...g, userId: '1', userName: 'Ann', text: 'hi from Ann' }));
    await say(h.engine, inbound({ ...g, userId: '2', userName: 'Bob', text: 'hi from Bob' }));
    const ctx = seen(h.fake);
    expect(ctx).toContain('user: Ann: hi from Ann');
    expect(ctx.at(-1)).toBe('user: Bob: hi from Bob');
  });

  it('gives each member their own conversation when an admin sets per-user scope', async () => {
    const g = { chatId: '-200', chatType: 'group' as const, mentioned: true };
    const set = await say(h.engine, inbound({ ...g, userId: '9', senderIsAdmin: true, text: '/admin scope per-user' }));
    expect(set.notices[0]).toMatch(/own conversation/);
    await say(h.engine, inbound({ ...g, userId: '1', userName: 'Ann', text: 'secret of Ann' }));
    await say(h.engine, inbound({ ...g, userId: '2', userName: 'Bob', text: 'hello' }));
    expect(seen(h.fake).join('\n')).not.toContain('secret of Ann');
  });

  it('treats a thread as its own conversation', async () => {
    const t = { chatId: '-300', chatType: 'thread' as const, mentioned: true };
    await say(h.engine, inbound({ ...t, threadId: '7', text: 'in topic seven' }));
    await say(h.engine, inbound({ ...t, threadId: '8', text: 'in topic eight' }));
    expect(seen(h.fake).join('\n')).not.toContain('topic seven');
    await say(h.engine, inbound({ ...t, threadId: '7', text: 'back in seven' }));
    expect(seen(h.fake).join('\n')).toContain('in topic seven');
  });
});

describe('commands', () => {
  it('/clear hides earlier turns from the model but keeps them stored', async () => {
    await say(h.engine, inbound({ text: 'remember the word banana' }));
    const r = await say(h.engine, inbound({ text: '/clear' }));
    expect(r.notices).toEqual([CLEARED_TEXT]);
    await say(h.engine, inbound({ text: 'what was the word?' }));
    expect(seen(h.fake).join('\n')).not.toContain('banana');
    const conv = await h.store.conversations.getByScope('telegram:1');
    expect(conv?.messageCount).toBe(4);
  });

  it('/character switches in a DM and refuses a non-admin in a group', async () => {
    const r = await say(h.engine, inbound({ text: '/character Nyx' }));
    expect(r.notices[0]).toMatch(/^Switched to Nyx/);
    await say(h.engine, inbound({ text: 'hello there' }));
    expect(seen(h.fake)[0]).toMatch(/^system: You are Nyx\./);

    const g = { chatId: '-400', chatType: 'group' as const };
    const refused = await say(h.engine, inbound({ ...g, text: '/character Sunny' }));
    expect(refused.notices[0]).toContain(REFUSAL_TEXT);
    const ok = await say(h.engine, inbound({ ...g, senderIsAdmin: true, text: '/character Sunny' }));
    expect(ok.notices[0]).toMatch(/^Switched to Sunny/);
    await say(h.engine, inbound({ ...g, mentioned: true, text: 'morning' }));
    expect(seen(h.fake)[0]).toMatch(/^system: You are Sunny\./);
  });

  it('ADMIN_USER_IDS makes a user admin anywhere', async () => {
    const r = await say(h.engine, inbound({ chatId: '-500', chatType: 'group', userId: '999', text: '/admin engage always' }));
    expect(r.notices[0]).toMatch(/every message/);
    const answered = await say(h.engine, inbound({ chatId: '-500', chatType: 'group', userId: '5', text: 'no mention' }));
    expect(answered.reply).toContain('no mention');
  });

  it('refuses admin commands to members and answers /help, /status and /start', async () => {
    const g = { chatId: '-600', chatType: 'group' as const };
    expect((await say(h.engine, inbound({ ...g, text: '/admin limit 3' }))).notices).toEqual([REFUSAL_TEXT]);
    expect((await say(h.engine, inbound({ text: '/help' }))).notices[0]).toContain('/clear');
    const status = await say(h.engine, inbound({ text: '/status' }));
    expect(status.notices[0]).toMatch(/Conversation: conv_.*\nCharacter: Aria/);
    const start = await say(h.engine, inbound({ text: '/start' }));
    expect(start.notices[0]).toMatch(/^Hi Sam! I'm Aria/);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('ignores unknown commands in groups and hints in DMs', async () => {
    expect((await say(h.engine, inbound({ chatId: '-700', chatType: 'group', text: '/weather' }))).events).toEqual([]);
    expect((await say(h.engine, inbound({ text: '/weather' }))).notices[0]).toMatch(/Unknown command/);
  });
});

describe('engagement', () => {
  const g = { chatId: '-800', chatType: 'group' as const };
  it('ignores group chatter, answers mention, reply and name', async () => {
    expect((await say(h.engine, inbound({ ...g, text: 'just chatting' }))).events).toEqual([]);
    expect((await say(h.engine, inbound({ ...g, mentioned: true, text: 'hey bot' }))).reply).toContain('hey bot');
    expect((await say(h.engine, inbound({ ...g, repliedToBot: true, text: 'replying' }))).reply).toContain('replying');
    expect((await say(h.engine, inbound({ ...g, text: 'Aria, what time is it?' }))).reply).toBeDefined();
    expect((await say(h.engine, inbound({ ...g, text: 'Arianna is here' }))).events).toEqual([]);
    expect(h.fake.requests).toHaveLength(3);
  });

  it('answers unsupported media briefly and drops bot messages', async () => {
    expect((await say(h.engine, inbound({ text: '', unsupportedMedia: true }))).notices).toEqual([UNSUPPORTED_MEDIA_TEXT]);
    expect((await say(h.engine, inbound({ fromBot: true }))).events).toEqual([]);
  });

  it('sends images to the model as image parts', async () => {
    const r = await say(h.engine, inbound({ text: 'look', imageUrls: ['https://example.com/cat.png'] }));
    expect(r.reply).toBe('Echo: look [images: 1]');
    const last = h.fake.requests[0]!.body.messages.at(-1);
    expect(last.content).toEqual([
      { type: 'text', text: 'look' },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
    ]);
  });
});

describe('exactly once and ordering', () => {
  it('drops a repeated event id before any work', async () => {
    const msg = inbound({ text: 'once' });
    const [a, b] = await Promise.all([say(h.engine, msg), say(h.engine, { ...msg })]);
    expect([a.reply, b.reply].filter(Boolean)).toEqual(['Echo: once']);
    expect((await say(h.engine, { ...msg })).events).toEqual([]);
    expect(h.fake.requests).toHaveLength(1);
  });

  it('runs turns of one conversation one at a time, in arrival order', async () => {
    h.fake.setChunkDelay(5);
    const replies = await Promise.all(['one', 'two', 'three'].map((t) => say(h.engine, inbound({ text: t }))));
    expect(replies.map((r) => r.reply)).toEqual(['Echo: one', 'Echo: two', 'Echo: three']);
    const third = seen(h.fake, 2);
    expect(third).toContain('assistant: Echo: two');
    expect(third.at(-1)).toBe('user: three');
  });

  it('stores the user message before calling the model', async () => {
    h.fake.failNext(1, { status: 500 });
    const r = await say(h.engine, inbound({ text: 'keep me' }));
    expect(r.error).toBe(MODEL_FAILURE_TEXT);
    const conv = await h.store.conversations.getByScope('telegram:1');
    const msgs = await h.store.messages.newest(conv!.id, { limit: 10 });
    expect(msgs.map((m) => m.content)).toEqual(['keep me']);
    expect((await h.store.usage.forConversation(conv!.id)).turns).toBe(0);
  });
});

describe('model failures', () => {
  it('turns a stream broken midway into the neutral error, storing no partial reply', async () => {
    h.fake.respondWith('one two three four five six');
    h.fake.breakStreamAfter(2);
    const r = await say(h.engine, inbound({ text: 'hi' }));
    expect(r.error).toBe(MODEL_FAILURE_TEXT);
    expect(r.reply).toBeUndefined();
  });

  it('retries a 429 through the SDK and answers', async () => {
    const h2 = await startHarness({ maxRetries: 2 });
    try {
      h2.fake.failNext(1, { status: 429, retryAfterMs: 1 });
      expect((await say(h2.engine, inbound({ text: 'retry me' }))).reply).toBe('Echo: retry me');
      expect(h2.fake.requests.map((r) => r.status)).toEqual([429, 200]);
    } finally {
      await h2.close();
    }
  });
});

describe('text that looks like a model control token', () => {
  it('is answered like any other text and reaches the model unchanged', async () => {
    const first = await say(h.engine, inbound({ text: 'what does <|endoftext|> mean?' }));
    expect(first.reply).toBe('Echo: what does <|endoftext|> mean?');
    await say(h.engine, inbound({ text: 'and <|im_start|>?' }));
    expect(seen(h.fake)).toContain('user: what does <|endoftext|> mean?');
    expect(seen(h.fake).at(-1)).toBe('user: and <|im_start|>?');
  });
});
