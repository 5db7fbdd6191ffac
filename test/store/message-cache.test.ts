/**
 * History reads go through a per-process cache of message rows (MessageCache). Another instance
 * is played by a second MessageRepo on the same database with a cache of its own: whatever each
 * has cached, `newest` must answer exactly what the database holds.
 */
import { expect, it } from 'vitest';
import { MessageRepo } from '../../src/store/messages.js';
import { toMessage } from '../../src/store/messages.js';
import { describeStores } from './backends.js';

describeStores('MessageRepo history through the row cache', (ctx) => {
  const conversation = () => ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'key_a', characterId: null });
  /** What the table holds for a range, newest first, read without any cache. */
  const direct = async (conversationId: string, o: { afterSeq?: number; beforeSeq?: number; limit: number }) =>
    (
      await ctx.store.db
        .selectFrom('messages')
        .selectAll()
        .where('conversation_id', '=', conversationId)
        .where('seq', '>', o.afterSeq ?? 0)
        .where('seq', '<', o.beforeSeq ?? Number.MAX_SAFE_INTEGER)
        .orderBy('seq', 'desc')
        .limit(o.limit)
        .execute()
    ).map(toMessage);
  const say = (repo: MessageRepo, conversationId: string, i: number) =>
    repo.append({ conversationId, role: i % 2 ? 'assistant' : 'user', kind: i % 2 ? 'assistant' : 'user', content: `message ${i}`, tokenCount: 3, ...(i % 5 === 0 ? { imageUrls: [`https://x/${i}.png`] } : {}) });

  it("answers what the database holds, with another instance's messages and its own cached ones", async () => {
    const c = await conversation();
    const other = new MessageRepo(ctx.store.db, ctx.clock); // a second process: its own cache
    const mine = ctx.store.messages;
    for (let i = 0; i < 30; i++) await say(mine, c.id, i);

    // Cold for `other` (more missing than are fetched one by one), warm for `mine`.
    expect(await other.newest(c.id, { limit: 50 })).toEqual(await direct(c.id, { limit: 50 }));
    expect(await mine.newest(c.id, { limit: 50 })).toEqual(await direct(c.id, { limit: 50 }));

    // `other` writes three more; `mine` has the older rows cached and must still see the new ones.
    for (let i = 30; i < 33; i++) await say(other, c.id, i);
    const now = await direct(c.id, { limit: 50 });
    expect(now.map((m) => m.content).slice(0, 3)).toEqual(['message 32', 'message 31', 'message 30']);
    expect(await mine.newest(c.id, { limit: 50 })).toEqual(now);
    expect(await other.newest(c.id, { limit: 50 })).toEqual(now);

    // Ranges and limits are the database's, not the cache's.
    const seqs = now.map((m) => m.seq).reverse();
    const range = { afterSeq: seqs[9]!, beforeSeq: seqs[20]!, limit: 8 };
    expect(await mine.newest(c.id, range)).toEqual(await direct(c.id, range));
    expect((await mine.newest(c.id, range)).map((m) => m.content)).toEqual(['message 19', 'message 18', 'message 17', 'message 16', 'message 15', 'message 14', 'message 13', 'message 12']);
  });

  it("reads token counts and unread messages like the table, with another instance's messages among cached ones", async () => {
    const c = await conversation();
    const other = new MessageRepo(ctx.store.db, ctx.clock);
    const mine = ctx.store.messages;
    for (let i = 0; i < 20; i++) await say(mine, c.id, i);
    await mine.newest(c.id, { limit: 50 });
    for (let i = 20; i < 23; i++) await say(other, c.id, i); // not in `mine`'s cache
    const table = (await direct(c.id, { limit: 50 })).reverse();
    const seqs = table.map((m) => m.seq);
    for (const repo of [mine, other]) {
      expect(await repo.newestTokens(c.id, { afterSeq: 0, limit: 64 })).toEqual([...table].reverse().map((m) => ({ seq: m.seq, tokenCount: m.tokenCount })));
      expect(await repo.newestTokens(c.id, { afterSeq: seqs[3]!, beforeSeq: seqs[10]!, limit: 64 })).toEqual(table.slice(4, 10).reverse().map((m) => ({ seq: m.seq, tokenCount: m.tokenCount })));
      expect(await repo.after(c.id, seqs[15]!, 60)).toEqual(table.slice(16));
      expect(await repo.after(c.id, 0, 5)).toEqual(table.slice(0, 5));
    }
  });

  it('returns nothing of a deleted conversation, however much of it is cached', async () => {
    const c = await conversation();
    for (let i = 0; i < 12; i++) await say(ctx.store.messages, c.id, i);
    expect(await ctx.store.messages.newest(c.id, { limit: 20 })).toHaveLength(12);
    await ctx.store.conversations.delete(c.id);
    expect(await ctx.store.messages.newest(c.id, { limit: 20 })).toEqual([]);
  });

  it('hands out shared rows frozen, so one reader cannot change what another reads', async () => {
    const c = await conversation();
    for (let i = 0; i < 10; i++) await say(ctx.store.messages, c.id, i);
    const [newest] = await ctx.store.messages.newest(c.id, { limit: 10 });
    expect(() => {
      (newest as { content: string }).content = 'changed';
    }).toThrow(TypeError);
    const oldest = (await ctx.store.messages.newest(c.id, { limit: 10 })).at(-1)!;
    expect(() => oldest.imageUrls.push('https://evil')).toThrow(TypeError);
    expect((await ctx.store.messages.newest(c.id, { limit: 10 }))[0]!.content).toBe('message 9');
  });
});
