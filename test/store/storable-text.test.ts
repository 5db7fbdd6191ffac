/**
 * Text PostgreSQL cannot hold — U+0000 (NUL) — is stored without it, on both stores alike: a
 * platform message, a model's reply or an imported card carrying one is kept, not a failed
 * statement (on PostgreSQL: "invalid byte sequence for encoding UTF8: 0x00"). Lookups by such
 * text find nothing instead of failing.
 */
import { expect, it } from 'vitest';
import { describeStores } from './backends.js';

describeStores('text with a NUL character', (ctx) => {
  it('is stored and read back without it', async () => {
    const conv = await ctx.store.conversations.getOrCreateByScope('telegram:1:chat:\u00007', { platform: 'telegram', chatType: 'dm' });
    const stored = await ctx.store.messages.append({ conversationId: conv.id, role: 'user', kind: 'user', content: 'hi\u0000 there', authorName: 'A\u0000nn', tokenCount: 2 });
    expect(stored).toMatchObject({ content: 'hi there', authorName: 'Ann' });
    expect(await ctx.store.messages.get(stored.id)).toMatchObject({ content: 'hi there', authorName: 'Ann' });
    // The scope key is stored the same way, so the chat is found again whichever form asks.
    expect((await ctx.store.conversations.getByScope('telegram:1:chat:7'))?.id).toBe(conv.id);
    expect((await ctx.store.conversations.getOrCreateByScope('telegram:1:chat:\u00007', { platform: 'telegram', chatType: 'dm' })).id).toBe(conv.id);
  });

  it('asked for by id finds nothing rather than failing', async () => {
    expect(await ctx.store.messages.get('msg_\u0000')).toBeUndefined();
    expect(await ctx.store.conversations.get('conv_\u0000')).toBeUndefined();
  });
});
