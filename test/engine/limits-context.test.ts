import { afterEach, describe, expect, it, vi } from 'vitest';
import { inbound, say, seen, startHarness, type Harness } from '../helpers/harness.js';
import { Semaphore } from '../../src/engine/index.js';
import { countTokens } from '../../src/llm/index.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('rate limits', () => {
  it('stops a user over the per-user limit with one notice per window, without calling the model', async () => {
    h = await startHarness({ config: { userPerMin: 2 } });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await say(h.engine, inbound({ text: `m${i}` })));
    expect(results.filter((r) => r.reply).length).toBe(2);
    const notices = results.flatMap((r) => r.notices);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/too quickly/);
    expect(h.fake.requests).toHaveLength(2);
  });

  it('counts commands against the per-user limit: their answers are messages too', async () => {
    h = await startHarness({ config: { userPerMin: 5 } });
    const results = [];
    for (let i = 0; i < 15; i++) results.push(await say(h.engine, inbound({ text: '/status' })));
    expect(results.filter((r) => r.notices.some((n) => n.startsWith('Conversation:'))).length).toBe(5);
    expect(results.flatMap((r) => r.notices).filter((n) => /too quickly/.test(n))).toHaveLength(1);
    // Group chatter not addressed to the character costs nobody a message of their budget.
    const g = { chatId: '-9', chatType: 'group' as const, userId: '3' };
    for (let i = 0; i < 10; i++) await say(h.engine, inbound({ ...g, text: `chatter ${i}` }));
    expect((await say(h.engine, inbound({ ...g, mentioned: true, text: 'now you' }))).reply).toBeDefined();
  });

  it('applies the per-group limit across members and an admin-set per-user limit', async () => {
    h = await startHarness({ config: { groupPerMin: 3 } });
    const g = { chatId: '-1', chatType: 'group' as const, mentioned: true };
    for (let i = 0; i < 4; i++) await say(h.engine, inbound({ ...g, userId: String(i), text: `u${i}` }));
    expect(h.fake.requests).toHaveLength(3);

    await say(h.engine, inbound({ chatId: '-2', chatType: 'group', senderIsAdmin: true, text: '/admin limit 1' }));
    const a = await say(h.engine, inbound({ chatId: '-2', chatType: 'group', mentioned: true, userId: '7', text: 'first' }));
    const b = await say(h.engine, inbound({ chatId: '-2', chatType: 'group', mentioned: true, userId: '7', text: 'second' }));
    expect(a.reply).toBeDefined();
    expect(b.reply).toBeUndefined();
    expect(b.notices[0]).toMatch(/too quickly/);
  });

  it('caps concurrent model calls globally', async () => {
    const s = new Semaphore(2);
    const r1 = await s.acquire();
    await s.acquire();
    let third = false;
    const p = s.acquire().then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    r1();
    await p;
    expect(third).toBe(true);
  });
});

describe('context window', () => {
  it('refuses a message that cannot fit beside the character under CONTEXT_TOKENS, before storing it or asking the model', async () => {
    h = await startHarness({ config: { contextTokens: 600 } });
    await say(h.engine, inbound({ text: 'hello' }));
    const asked = h.fake.requests.length;
    // 2,000 CJK characters are about as many tokens: far past this budget with any character.
    const r = await say(h.engine, inbound({ text: '漢'.repeat(2000) }));
    expect(r.error).toBe('That message is too long for me to answer. Please send a shorter one.');
    expect(r.reply).toBeUndefined();
    expect(h.fake.requests.length).toBe(asked);
    const conv = await h.store.conversations.getByScope('telegram:1');
    expect((await h.store.messages.newest(conv!.id, { limit: 10 })).map((m) => m.content)).toEqual(['Echo: hello', 'hello']);
    // A message that fits is answered as before.
    expect((await say(h.engine, inbound({ text: 'short again' }))).reply).toBe('Echo: short again');
  });

  it('says so when the character alone is over CONTEXT_TOKENS', async () => {
    h = await startHarness({ config: { contextTokens: 600 } });
    const aria = (await h.store.characters.findVisible('aria', null))!;
    await h.store.characters.update(aria.id, { scenario: 'A long scenario. '.repeat(400) });
    const r = await say(h.engine, inbound({ text: 'hello' }));
    expect(r.error).toMatch(/^My character description is longer than this bot's context allows/);
    expect(h.fake.requests.length).toBe(0);
  });

  it('fits the newest messages under CONTEXT_TOKENS and drops the oldest', async () => {
    h = await startHarness({ config: { contextTokens: 600 } });
    for (let i = 0; i < 30; i++) await say(h.engine, inbound({ text: `message number ${i} ${'pad '.repeat(10)}` }));
    const body = h.fake.requests.at(-1)!.body;
    const texts = seen(h.fake);
    expect(texts.at(-1)).toContain('message number 29');
    expect(texts.join('\n')).not.toContain('message number 0 ');
    expect(texts.join('\n')).toContain('message number 28');
    const total = (body.messages as Array<{ content: string }>).reduce((n, m) => n + countTokens(m.content) + 4, 0);
    expect(total).toBeLessThanOrEqual(600);
  });

  it('reads only as many rows as the window needs, whatever the history length', async () => {
    h = await startHarness({ config: { contextTokens: 400 } });
    const conv = await h.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: null });
    for (let i = 0; i < 2000; i++) {
      await h.store.messages.append({ conversationId: conv.id, role: i % 2 ? 'assistant' : 'user', kind: i % 2 ? 'assistant' : 'user', content: `row ${i}`, tokenCount: 3 });
    }
    const { buildContext } = await import('../../src/engine/index.js');
    const character = (await h.store.characters.findVisible('aria', null))!;
    const built = await buildContext(h.store.messages, { character, conversation: conv, userName: 'Sam', chatType: 'dm', budgetTokens: 400 });
    expect(built.historyIncluded).toBeGreaterThan(5);
    expect(built.rowsRead).toBeLessThan(100);
    expect(built.promptTokens).toBeLessThanOrEqual(400);
  });

  it("sizes a conversation's first history page by its last turn: the same context in one read", async () => {
    h = await startHarness();
    const store = h.store;
    const conv = await store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: null });
    const say = (i: number) => store.messages.append({ conversationId: conv.id, role: i % 2 ? 'assistant' : 'user', kind: i % 2 ? 'assistant' : 'user', content: `row ${i}`, tokenCount: 3 });
    for (let i = 0; i < 70; i++) await say(i);
    const { buildContext } = await import('../../src/engine/index.js');
    const { PromptCache } = await import('../../src/engine/context.js');
    const character = (await store.characters.findVisible('aria', null))!;
    const input = { character, conversation: conv, userName: 'Sam', chatType: 'dm' as const, budgetTokens: 8000 };
    const cache = new PromptCache();
    const reads = vi.spyOn(store.messages, 'newest');
    expect((await buildContext(store.messages, input, cache)).historyIncluded).toBe(70);
    expect(reads).toHaveBeenCalledTimes(2); // 32, then 64: no hint yet
    await say(70);
    await say(71);
    reads.mockClear();
    const hinted = await buildContext(store.messages, input, cache);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(hinted).toEqual(await buildContext(store.messages, input, new PromptCache()));
  });

  it('keeps system prompts up to their total length, not only their number: a long card under many user names is not kept a thousand times', async () => {
    const { PromptCache } = await import('../../src/engine/context.js');
    const cache = new PromptCache();
    const long = 'x'.repeat(7_000_000);
    for (const name of ['a', 'b', 'c']) cache.set(`char|v1|${name}|dm`, { text: long, tokens: 1 });
    expect(cache.get('char|v1|a|dm')).toBeUndefined(); // the oldest went to make room
    expect(cache.get('char|v1|c|dm')?.text.length).toBe(7_000_000);
    for (let i = 0; i < 100; i++) cache.set(`short|${i}`, { text: 'You are Aria.', tokens: 4 });
    expect(cache.get('short|0')?.tokens).toBe(4);
  });
});
