import { expect, it } from 'vitest';
import type { NewMessage } from '../../src/store/index.js';
import { describeStores } from './backends.js';

describeStores('ConversationRepo', (ctx) => {
  const api = (ownerId: string | null, over: { characterId?: string | null; metadata?: Record<string, unknown> | null } = {}) =>
    ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId, characterId: over.characterId ?? null, metadata: over.metadata ?? null });

  it('creates and gets by id; platform conversations by scope key, created once', async () => {
    const c = await api('key_a', { characterId: 'char_1', metadata: { userId: 'u1' } });
    expect(await ctx.store.conversations.get(c.id)).toEqual(c);
    expect(c).toMatchObject({ ownerId: 'key_a', characterId: 'char_1', metadata: { userId: 'u1' }, messageCount: 0, contextStartSeq: 0, lastActivityAt: null });
    const init = { platform: 'telegram' as const, chatType: 'group' as const };
    const [a, b] = await Promise.all([ctx.store.conversations.getOrCreateByScope('telegram:g1', init), ctx.store.conversations.getOrCreateByScope('telegram:g1', init)]);
    expect(a.id).toBe(b.id);
    expect((await ctx.store.conversations.getByScope('telegram:g1'))?.id).toBe(a.id);
    expect(await ctx.store.conversations.getByScope('telegram:none')).toBeUndefined();
  });

  it('creates a session with a pre-made id once; asked again (a turn run after a crash), returns it', async () => {
    const init = { id: 'conv_premade', platform: 'api' as const, chatType: 'dm' as const, ownerId: 'key_a', characterId: 'char_1' };
    const first = await ctx.store.conversations.create(init);
    expect(first).toEqual(await ctx.store.conversations.get('conv_premade'));
    await ctx.store.messages.append({ conversationId: first.id, role: 'user', kind: 'user', content: 'hi', tokenCount: 1 });
    const again = await ctx.store.conversations.create({ ...init, metadata: { other: true } });
    expect(again).toEqual(await ctx.store.conversations.get('conv_premade'));
    expect(again).toMatchObject({ messageCount: 1, metadata: null });
  });

  it('lists newest-updated first with filters, previews and a matching total', async () => {
    const a = await api('key_a', { characterId: 'char_1', metadata: { userId: 'u1', groupId: 'g1' } });
    ctx.clock.advance(1000);
    const b = await api('key_a', { metadata: { userId: 'u2', n: 5 } });
    ctx.clock.advance(1000);
    await api('key_b');
    await ctx.store.messages.append({ conversationId: a.id, role: 'user', kind: 'user', content: 'newest of a', tokenCount: 1 });
    await ctx.store.messages.append({ conversationId: a.id, role: 'system', kind: 'system-notice', content: 'notice', tokenCount: 1 });
    const list = (q: Record<string, unknown> = {}) => ctx.store.conversations.list({ page: 1, limit: 10, ...q });
    const mine = await list({ ownerId: 'key_a' });
    expect(mine.total).toBe(2);
    expect(mine.conversations.map((c) => [c.id, c.preview])).toEqual([[a.id, 'newest of a'], [b.id, null]]);
    expect((await list()).total).toBe(3);
    expect((await list({ platform: 'telegram' })).total).toBe(0);
    expect((await list({ characterId: 'char_1' })).conversations.map((c) => c.id)).toEqual([a.id]);
    expect((await list({ updatedAfter: b.updatedAt })).conversations.map((c) => c.ownerId).sort()).toEqual(['key_a', 'key_b']);
    expect((await list({ metadata: { userId: 'u2' } })).conversations.map((c) => c.id)).toEqual([b.id]);
    expect((await list({ metadata: { userId: 'u1', groupId: 'g1' } })).conversations.map((c) => c.id)).toEqual([a.id]);
    expect((await list({ ownerId: 'key_a', metadata: { groupId: null } })).conversations.map((c) => c.id)).toEqual([b.id]);
    // A number is not the string of its digits (as with SQLite's json_extract).
    expect((await list({ metadata: { n: '5' } })).total).toBe(0);
    const page2 = await list({ ownerId: 'key_a', limit: 1, page: 2 });
    expect([page2.total, page2.conversations.map((c) => c.id)]).toEqual([2, [b.id]]);
    expect((await list({ ownerId: 'key_a', limit: 1, offset: 0 })).conversations.map((c) => c.id)).toEqual([a.id]);
  });

  it('sets character and metadata, clears context at the newest seq, deletes with messages', async () => {
    const c = await api('key_a');
    await ctx.store.conversations.setCharacter(c.id, 'char_9');
    await ctx.store.conversations.setMetadata(c.id, { userId: 'x' });
    const m = await ctx.store.messages.append({ conversationId: c.id, role: 'user', kind: 'user', content: 'hi', tokenCount: 1 });
    await ctx.store.conversations.clearContext(c.id);
    expect(await ctx.store.conversations.get(c.id)).toMatchObject({ characterId: 'char_9', metadata: { userId: 'x' }, contextStartSeq: m.seq });
    await ctx.store.conversations.setMetadata(c.id, null);
    expect((await ctx.store.conversations.get(c.id))?.metadata).toBeNull();
    expect(await ctx.store.conversations.delete(c.id)).toBe(true);
    expect(await ctx.store.messages.get(m.id)).toBeUndefined();
    expect(await ctx.store.conversations.delete(c.id)).toBe(false);
  });
});

describeStores('MessageRepo', (ctx) => {
  const msg = (conversationId: string, over: Partial<NewMessage> = {}): NewMessage => ({ conversationId, role: 'user', kind: 'user', content: 'hello', tokenCount: 3, ...over });

  it('appends with increasing seq and bumps the counters; notices do not count', async () => {
    const c = await ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: null });
    ctx.clock.advance(5000);
    const u = await ctx.store.messages.append(msg(c.id, { imageUrls: ['https://x/y.png'], authorId: 'u1', authorName: 'Sam' }));
    const a = await ctx.store.messages.append(msg(c.id, { role: 'assistant', kind: 'assistant', content: 'hi back', id: 'msg_promised' }));
    await ctx.store.messages.append(msg(c.id, { role: 'system', kind: 'system-notice', content: 'slow down' }));
    expect(a.seq).toBeGreaterThan(u.seq);
    expect(a.id).toBe('msg_promised');
    expect(await ctx.store.messages.get(u.id)).toEqual(u);
    expect(u).toMatchObject({ imageUrls: ['https://x/y.png'], authorId: 'u1', authorName: 'Sam', tokenCount: 3 });
    const conv = (await ctx.store.conversations.get(c.id))!;
    expect(conv.messageCount).toBe(2);
    expect(conv.lastActivityAt).toBe(new Date(ctx.clock.now()).toISOString());
    // A later notice is neither history nor activity.
    const before = conv.lastActivityAt;
    ctx.clock.advance(5000);
    await ctx.store.messages.append(msg(c.id, { role: 'system', kind: 'system-notice', content: 'still slow' }));
    expect((await ctx.store.conversations.get(c.id))).toMatchObject({ messageCount: 2, lastActivityAt: before });
  });

  it('stores a message of one source event once', async () => {
    const c = await ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: null });
    const first = await ctx.store.messages.append(msg(c.id, { sourceEvent: 'telegram:77' }));
    const again = await ctx.store.messages.append(msg(c.id, { sourceEvent: 'telegram:77', content: 'changed' }));
    expect(again).toEqual(first);
    expect((await ctx.store.conversations.get(c.id))?.messageCount).toBe(1);
  });

  it('reads newest first within seq bounds and kinds, and pages oldest first', async () => {
    const c = await ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: null });
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const kind = i === 2 ? 'system-notice' : i % 2 ? 'assistant' : 'user';
      seqs.push((await ctx.store.messages.append(msg(c.id, { kind, role: kind === 'assistant' ? 'assistant' : 'user', content: `m${i}` }))).seq);
    }
    const contents = (ms: Array<{ content: string }>) => ms.map((m) => m.content);
    expect(contents(await ctx.store.messages.newest(c.id, { limit: 3 }))).toEqual(['m5', 'm4', 'm3']);
    expect(contents(await ctx.store.messages.newest(c.id, { limit: 10, afterSeq: seqs[3]! }))).toEqual(['m5', 'm4']);
    expect(contents(await ctx.store.messages.newest(c.id, { limit: 10, beforeSeq: seqs[2]! }))).toEqual(['m1', 'm0']);
    expect(contents(await ctx.store.messages.newest(c.id, { limit: 10, kinds: ['system-notice'] }))).toEqual(['m2']);
    const p1 = await ctx.store.messages.page(c.id, { limit: 3 });
    expect([contents(p1.messages), p1.hasMore]).toEqual([['m3', 'm4', 'm5'], true]);
    const p2 = await ctx.store.messages.page(c.id, { limit: 3, beforeSeq: p1.messages[0]!.seq });
    expect([contents(p2.messages), p2.hasMore]).toEqual([['m0', 'm1'], false]);
  });
  it("lists a platform's recently active chats, newest first, each with its newest user message's source event", async () => {
    const chat = async (scope: string, events: string[]) => {
      const c = await ctx.store.conversations.getOrCreateByScope(scope, { platform: 'discord', chatType: 'dm' });
      for (const e of events) {
        await ctx.store.messages.append(msg(c.id, { sourceEvent: e }));
        await ctx.store.messages.append(msg(c.id, { role: 'assistant', kind: 'assistant', sourceEvent: `${e}:reply` }));
      }
      return c;
    };
    await chat('discord:100', ['discord:5', 'discord:9']);
    ctx.clock.advance(60_000);
    await chat('discord:200:user:7', ['discord:12']);
    await chat('discord:300', []); // nothing handled there
    await ctx.store.conversations.getOrCreateByScope('telegram:1', { platform: 'telegram', chatType: 'dm' });
    expect(await ctx.store.conversations.recentChats('discord', 3_600_000, 10)).toEqual([
      { scopeKey: 'discord:200:user:7', lastEvent: 'discord:12' },
      { scopeKey: 'discord:100', lastEvent: 'discord:9' },
    ]);
    expect(await ctx.store.conversations.recentChats('discord', 3_600_000, 1)).toHaveLength(1);
    ctx.clock.advance(3_600_001);
    expect(await ctx.store.conversations.recentChats('discord', 3_600_000, 10)).toEqual([]);
  });
});
