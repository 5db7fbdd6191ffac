import { expect, it } from 'vitest';
import type { NewUpdate } from '../../src/store/index.js';
import { describeStores } from './backends.js';

describeStores('UpdateRepo', (ctx) => {
  const conv = (ownerId: string) => ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId, characterId: 'char_1' });
  const reply = (apiKeyId: string, conversationId: string, text: string): NewUpdate => ({
    apiKeyId, conversationId, characterId: 'char_1', kind: 'reply',
    message: { id: `msg_${text}`, content: text, sentAt: new Date(ctx.clock.now()).toISOString() },
  });

  it('appends entries and reads them in cursor order, per key or for the admin', async () => {
    const a = await conv('k1');
    const b = await conv('k2');
    const first = await ctx.store.updates.append(reply('k1', a.id, 'one'));
    ctx.clock.advance(1000);
    const err = await ctx.store.updates.append({ apiKeyId: 'k1', conversationId: a.id, characterId: 'char_1', kind: 'error', error: { code: 'MODEL_ERROR', message: 'down' } });
    await ctx.store.updates.append(reply('k2', b.id, 'two'));
    expect(first).toMatchObject({ apiKeyId: 'k1', kind: 'reply', message: { id: 'msg_one', content: 'one' }, error: null });
    expect(err).toMatchObject({ kind: 'error', message: null, error: { code: 'MODEL_ERROR', message: 'down' } });
    const mine = await ctx.store.updates.list({ apiKeyId: 'k1', limit: 10 });
    expect(mine.updates.map((u) => u.id)).toEqual([first.id, err.id]);
    const all = await ctx.store.updates.list({ apiKeyId: null, limit: 10 });
    expect(all.updates).toHaveLength(3);
    expect(mine.cursor).toBe(all.cursor);
    expect((await ctx.store.updates.list({ apiKeyId: 'k1', afterId: mine.cursor, limit: 10 })).updates).toEqual([]);
    expect((await ctx.store.updates.list({ apiKeyId: null, conversationId: b.id, limit: 10 })).updates.map((u) => u.message?.content)).toEqual(['two']);
    expect((await ctx.store.updates.list({ apiKeyId: 'k1', since: first.createdAt, limit: 10 })).updates.map((u) => u.id)).toEqual([err.id]);
  });

  it('stops a full page at its last entry, so the next read continues there', async () => {
    const a = await conv('k1');
    const ids: number[] = [];
    for (const t of ['a', 'b', 'c']) ids.push((await ctx.store.updates.append(reply('k1', a.id, t))).id);
    const page = await ctx.store.updates.list({ apiKeyId: 'k1', limit: 2 });
    expect([page.updates.map((u) => u.id), page.cursor]).toEqual([ids.slice(0, 2), ids[1]]);
    const rest = await ctx.store.updates.list({ apiKeyId: 'k1', afterId: page.cursor, limit: 2 });
    expect([rest.updates.map((u) => u.id), rest.cursor]).toEqual([[ids[2]], ids[2]]);
  });

  it('hides and deletes the entries of a deleted conversation', async () => {
    const a = await conv('k1');
    const b = await conv('k1');
    await ctx.store.updates.append(reply('k1', a.id, 'gone'));
    await ctx.store.updates.append(reply('k1', b.id, 'kept'));
    const stored = (conversationId: string) => ctx.store.db.selectFrom('updates').select('message_id').where('conversation_id', '=', conversationId).execute();
    expect(await stored(a.id)).toEqual([{ message_id: 'msg_gone' }]);
    await ctx.store.conversations.delete(a.id);
    expect((await ctx.store.updates.list({ apiKeyId: 'k1', limit: 10 })).updates.map((u) => u.message?.content)).toEqual(['kept']);
    await ctx.store.updates.deleteForConversation(a.id);
    expect(await stored(a.id)).toEqual([]);
    expect(await stored(b.id)).toEqual([{ message_id: 'msg_kept' }]);
  });

  it('holds a message once: appending it again returns its entry and wakes nobody', async () => {
    const a = await conv('k1');
    const first = await ctx.store.updates.append(reply('k1', a.id, 'once'));
    const woken = ctx.store.updates.waitFor(() => true, 60_000, AbortSignal.timeout(200));
    const again = await ctx.store.updates.append(reply('k1', a.id, 'once'));
    expect(again).toEqual(first);
    expect(await woken).toBe(false);
    expect((await ctx.store.updates.list({ apiKeyId: 'k1', limit: 10 })).updates.map((u) => u.id)).toEqual([first.id]);
    // Errors carry no message: each is its own entry.
    const failed = { apiKeyId: 'k1', conversationId: a.id, characterId: 'char_1', kind: 'error' as const, error: { code: 'MODEL_ERROR', message: 'down' } };
    await ctx.store.updates.append(failed);
    await ctx.store.updates.append(failed);
    expect((await ctx.store.updates.list({ apiKeyId: 'k1', limit: 10 })).updates).toHaveLength(3);
  });

  it('wakes a waiting reader on a matching append; an abort releases it with false', async () => {
    const a = await conv('k1');
    const woken = ctx.store.updates.waitFor((u) => u.apiKeyId === 'k1', 60_000);
    const aborter = new AbortController();
    const other = ctx.store.updates.waitFor((u) => u.apiKeyId === 'k9', 60_000, aborter.signal);
    expect(ctx.store.updates.waiting).toBe(2);
    await ctx.store.updates.append(reply('k1', a.id, 'ping'));
    expect(await woken).toBe(true);
    aborter.abort();
    expect(await other).toBe(false);
    expect(ctx.store.updates.waiting).toBe(0);
  });

  // Last in this block: after wakeAll the repository accepts no more waits.
  it('releases every waiter at shutdown and refuses new waits', async () => {
    const waiting = ctx.store.updates.waitFor(() => true, 60_000);
    ctx.store.updates.wakeAll();
    expect(await waiting).toBe(false);
    expect(await ctx.store.updates.waitFor(() => true, 60_000)).toBe(false);
  });
});
