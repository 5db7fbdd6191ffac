import { expect, it } from 'vitest';
import { sql } from 'kysely';
import { searchWords, COMMON_WORD_DOCS, EmbeddingRepo, RecallRepo } from '../../src/store/index.js';
import { describeStores } from './backends.js';

describeStores('memory and recall', (ctx) => {
  const owner = { ownerKey: 'telegram:1', characterId: 'aria' };
  const conv = () => ctx.store.conversations.getOrCreateByScope(`telegram:${Math.random()}`, { platform: 'telegram', chatType: 'dm' });
  const say = (conversationId: string, content: string, role: 'user' | 'assistant' = 'user', authorId: string | null = null) =>
    ctx.store.messages.append({ conversationId, role, kind: role, content, tokenCount: 5, authorId });
  /** A user line and the character's reply. */
  const turn = async (conversationId: string, content: string, characterId = 'aria') => {
    const m = await say(conversationId, content);
    await say(conversationId, 'ok', 'assistant', characterId);
    return m;
  };

  it('keeps facts per owner and character: add, update, forget, trim, clear', async () => {
    const other = { ownerKey: 'telegram:2', characterId: 'aria' };
    const a = await ctx.store.memory.addFact(owner, 'Lives in Lyon');
    await ctx.store.memory.addFact(owner, 'Has a cat called Pixel');
    await ctx.store.memory.addFact({ ...owner, characterId: 'other' }, 'Told another character');
    expect((await ctx.store.memory.facts(owner)).map((f) => f.text)).toEqual(['Lives in Lyon', 'Has a cat called Pixel']);
    expect(await ctx.store.memory.facts(other)).toEqual([]);
    expect(await ctx.store.memory.updateFact(other, a.id, 'stolen')).toBe(false);
    expect(await ctx.store.memory.updateFact(owner, a.id, 'Moved from Lyon to Oslo')).toBe(true);
    expect(await ctx.store.memory.forgetFact(other, a.id)).toBeUndefined();
    await ctx.store.memory.addFact(owner, 'Likes tea');
    expect(await ctx.store.memory.trim(owner, 2)).toBe(1);
    expect((await ctx.store.memory.facts(owner)).map((f) => f.text)).toEqual(['Has a cat called Pixel', 'Likes tea']);
    expect(await ctx.store.memory.clear(owner, [], 42)).toBe(2);
    expect(await ctx.store.memory.facts(owner)).toEqual([]);
    expect(await ctx.store.memory.recallFloor(owner)).toBe(42);
    expect((await ctx.store.memory.facts({ ...owner, characterId: 'other' })).length).toBe(1);
  });

  it('leases extraction to one holder at a time and records progress and summary', async () => {
    const c = await conv();
    expect(await ctx.store.memory.claim(c.id, 'aria', 'p1', 60_000)).toBe(true);
    expect(await ctx.store.memory.claim(c.id, 'aria', 'p2', 60_000)).toBe(false);
    await ctx.store.memory.finish(c.id, 'aria', 'p1', { processedSeq: 10, summary: 'They met.' });
    expect(await ctx.store.memory.progress(c.id, 'aria')).toEqual({ processedSeq: 10, summary: 'They met.' });
    expect(await ctx.store.memory.claim(c.id, 'aria', 'p2', 60_000)).toBe(true);
    ctx.clock.advance(61_000);
    expect(await ctx.store.memory.claim(c.id, 'aria', 'p1', 60_000)).toBe(true);
    await ctx.store.memory.finish(c.id, 'aria', 'p2', { processedSeq: 99 }); // p2's lease lapsed
    expect((await ctx.store.memory.progress(c.id, 'aria')).processedSeq).toBe(10);
  });

  it("writes an extraction's facts with its progress, all of it or, once its lease lapsed, none", async () => {
    const c = await conv();
    const o = { ownerKey: `telegram:${c.id}`, characterId: 'aria' };
    await ctx.store.memory.addFact(o, 'Likes tea');
    const kept = await ctx.store.memory.addFact(o, 'Lives in Lyon');
    const gone = await ctx.store.memory.addFact(o, 'Has no pets');
    const learnt = {
      update: [{ id: kept.id, text: 'Moved from Lyon to Oslo', sourceSeqs: [7] }],
      remove: [gone.id],
      add: [{ text: 'Has a cat called Pixel', sourceSeqs: [8, 9] }, { text: 'Plays chess', sourceSeqs: [] }],
      maxFacts: 3,
      processedSeq: 9,
      summary: 'They talked about moving.',
    };
    expect(await ctx.store.memory.claim(c.id, 'aria', 'p1', 60_000)).toBe(true);
    ctx.clock.advance(61_000);
    expect(await ctx.store.memory.claim(c.id, 'aria', 'p2', 60_000)).toBe(true);
    // p1's lease lapsed and p2 holds the conversation: p1 writes nothing at all.
    expect(await ctx.store.memory.applyExtraction(o, { conversationId: c.id, owner: 'p1' }, learnt)).toBe(false);
    expect((await ctx.store.memory.facts(o)).map((f) => f.text)).toEqual(['Likes tea', 'Lives in Lyon', 'Has no pets']);
    expect(await ctx.store.memory.progress(c.id, 'aria')).toEqual({ processedSeq: 0, summary: null });

    expect(await ctx.store.memory.applyExtraction(o, { conversationId: c.id, owner: 'p2' }, learnt)).toBe(true);
    // Updated in place, removed, two added, then the cap of 3 drops the oldest.
    expect((await ctx.store.memory.facts(o)).map((f) => [f.text, f.sourceSeqs])).toEqual([
      ['Moved from Lyon to Oslo', [7]],
      ['Has a cat called Pixel', [8, 9]],
      ['Plays chess', []],
    ]);
    expect(await ctx.store.memory.progress(c.id, 'aria')).toEqual({ processedSeq: 9, summary: 'They talked about moving.' });
    expect(await ctx.store.memory.claim(c.id, 'aria', 'p3', 60_000)).toBe(true); // p2 gave the lease back
  });

  it('recalls matching older lines of one conversation, best first, never forgotten ones', async () => {
    const c = await conv();
    const elsewhere = await conv();
    const pixel = await turn(c.id, 'My cat is called Pixel and she is grey');
    await turn(c.id, 'Échecs: I play chess on Sundays');
    await turn(c.id, 'The weather is nice');
    await turn(elsewhere.id, 'Pixel is also a name here');
    await turn(c.id, 'Told Nyx: Pixel has a twin', 'nyx');
    await say(c.id, 'Nyx again about Pixel', 'assistant', 'nyx');
    const last = await say(c.id, 'what about pixel?');
    const q = { conversationId: c.id, characterId: 'aria', afterSeq: 0, beforeSeq: last.seq, limit: 5 };
    expect((await ctx.store.recall.search({ ...q, words: searchWords("What's my cat called? Pixel?") })).map((l) => l.content)).toEqual([pixel.content]);
    expect((await ctx.store.recall.search({ ...q, words: searchWords('SUNDAYS') })).length).toBe(1);
    // Accents: SQLite ignores them; PostgreSQL splits words by its database's locale.
    if (ctx.backend === 'sqlite') expect((await ctx.store.recall.search({ ...q, words: searchWords('echecs') })).length).toBe(1);
    expect(await ctx.store.recall.search({ ...q, afterSeq: pixel.seq, words: ['pixel'] })).toEqual([]);
    // Another character's turns of the same conversation are its own.
    const nyx = await ctx.store.recall.search({ ...q, characterId: 'nyx', words: ['pixel'] });
    expect(nyx.map((l) => l.content).sort()).toEqual(['Nyx again about Pixel', 'Told Nyx: Pixel has a twin']);
    const fact = await ctx.store.memory.addFact(owner, 'Has a cat called Pixel', [pixel.seq]);
    await ctx.store.memory.forgetFact(owner, fact.id);
    expect(await ctx.store.recall.search({ ...q, words: ['pixel'] })).toEqual([]);
  });

  it('drops words found in more than the cap of messages', async () => {
    const c = await conv();
    const rows = Array.from({ length: COMMON_WORD_DOCS + 1 }, (_, i) => ({
      id: `m${i}`, conversation_id: c.id, role: 'user', kind: 'user', content: `common word ${i}`, token_count: 3, created_at: '2026-01-01T00:00:00Z',
    }));
    for (let i = 0; i < rows.length; i += 200) await ctx.store.db.insertInto('messages').values(rows.slice(i, i + 200)).execute();
    await say(c.id, 'a rare zebra appears with the common word');
    await ctx.store.recall.indexPending();
    expect(await ctx.store.recall.rareWords(c.id, ['common', 'zebra', 'absent'])).toEqual(['zebra']);
    if (ctx.backend === 'postgres') {
      // With planner statistics, PostgreSQL knows the common word without counting it.
      await sql`analyze message_search`.execute(ctx.store.db);
      expect(await new RecallRepo(ctx.store.db, 'postgres').rareWords(c.id, ['common', 'zebra', 'absent'])).toEqual(['zebra']);
    }
  });

  it('judges how common a word is within the conversation: a word said everywhere else is still recalled where it is rare', async () => {
    const busy = await conv();
    const rows = Array.from({ length: COMMON_WORD_DOCS + 1 }, (_, i) => ({
      id: `s${i}`, conversation_id: busy.id, role: 'user', kind: 'user', content: `my sister called again ${i}`, token_count: 5, created_at: '2026-01-01T00:00:00Z',
    }));
    for (let i = 0; i < rows.length; i += 200) await ctx.store.db.insertInto('messages').values(rows.slice(i, i + 200)).execute();
    const c = await conv();
    const told = await turn(c.id, 'My sister is called Ada');
    const last = await say(c.id, 'what is my sister called?');
    await ctx.store.recall.indexPending();
    if (ctx.backend === 'postgres') await sql`analyze message_search`.execute(ctx.store.db);
    expect(await ctx.store.recall.rareWords(busy.id, ['sister'])).toEqual([]);
    expect(await new RecallRepo(ctx.store.db, ctx.backend).rareWords(c.id, ['sister'])).toEqual(['sister']);
    const q = { conversationId: c.id, characterId: 'aria', afterSeq: 0, beforeSeq: last.seq, limit: 5 };
    expect((await ctx.store.recall.search({ ...q, words: searchWords('what is my sister called?') })).map((l) => l.content)).toEqual([told.content]);
  });

  it('indexes messages stored before the search existed and forgets deleted ones', async () => {
    const c = await conv();
    const m = await say(c.id, 'remember the aquarium');
    await ctx.store.recall.indexPending();
    expect(await ctx.store.recall.rareWords(c.id, ['aquarium'])).toEqual(['aquarium']);
    await ctx.store.conversations.delete(c.id);
    expect(await ctx.store.recall.rareWords(c.id, ['aquarium'])).toEqual([]);
    expect(m.seq).toBeGreaterThan(0);
  });

  it('indexes in batches: a search indexes what its range lacks, and edits and deletes of messages never indexed leave the index sound', async () => {
    const c = await conv();
    await turn(c.id, 'the lighthouse keeper waved');
    const later = await say(c.id, 'a lighthouse again, newer');
    const q = { conversationId: c.id, characterId: 'aria', afterSeq: 0, limit: 5, words: ['lighthouse'] };
    // Nothing indexed them yet; a search below `later` still finds the older line, and only it.
    expect((await ctx.store.recall.search({ ...q, beforeSeq: later.seq })).map((l) => l.content)).toEqual(['the lighthouse keeper waved']);
    const edited = await turn(c.id, 'a lantern on the pier');
    const dropped = await conv();
    await say(dropped.id, 'lantern lantern lantern');
    // Edited and deleted before any pass indexed them: the triggers must not touch the index.
    await ctx.store.db.updateTable('messages').set({ content: 'a lighthouse on the pier' }).where('seq', '=', edited.seq).execute();
    await ctx.store.conversations.delete(dropped.id);
    expect(await ctx.store.recall.indexPending()).toBeGreaterThanOrEqual(ctx.backend === 'sqlite' ? 2 : 0);
    expect(await ctx.store.recall.indexPending()).toBe(0);
    expect(await ctx.store.recall.rareWords(c.id, ['lantern', 'lighthouse'])).toEqual(['lighthouse']);
    // Once indexed, an edit and a delete reach the index through the triggers.
    await ctx.store.db.updateTable('messages').set({ content: 'a beacon on the pier' }).where('seq', '=', edited.seq).execute();
    expect((await ctx.store.recall.search({ ...q, words: ['beacon'], beforeSeq: Number.MAX_SAFE_INTEGER })).map((l) => l.content)).toEqual(['a beacon on the pier']);
    await ctx.store.conversations.delete(c.id);
    expect(await ctx.store.recall.rareWords(c.id, ['lighthouse', 'beacon'])).toEqual([]);
    if (ctx.backend === 'sqlite') await sql`insert into message_fts(message_fts) values ('integrity-check')`.execute(ctx.store.db);
  });

  it('counts memory usage in tokens, never as turns, errors or credits', async () => {
    await ctx.store.usage.record({ conversationId: 'c', characterId: 'aria', promptTokens: 10, completionTokens: 5, credits: 1 });
    await ctx.store.usage.record({ conversationId: 'c', characterId: 'aria', promptTokens: 100, completionTokens: 50, kind: 'memory' });
    expect(await ctx.store.usage.forConversation('c')).toEqual({ turns: 1, promptTokens: 110, completionTokens: 55, credits: 1 });
    const [row] = await ctx.store.usage.report({ fromMs: 0, toMs: Date.UTC(2100, 0), groupBy: 'character' });
    expect(row).toMatchObject({ group: 'aria', turns: 1, modelErrors: 0, promptTokens: 110, credits: 1 });
  });

  it('stores embeddings per model and reads the newest of a conversation, never forgotten ones', async () => {
    const c = await conv();
    const a = await turn(c.id, 'first');
    const b = await turn(c.id, 'second');
    await ctx.store.embeddings.put([
      { seq: a.seq, conversationId: c.id, model: 'm1', vector: [0.5, -0.25] },
      { seq: b.seq, conversationId: c.id, model: 'm1', vector: [1, 0] },
    ]);
    const q = { conversationId: c.id, model: 'm1', afterSeq: 0, beforeSeq: b.seq + 1, limit: 10 };
    expect((await ctx.store.embeddings.newest(q)).map((e) => [e.seq, [...e.vector]])).toEqual([[b.seq, [1, 0]], [a.seq, [0.5, -0.25]]]);
    expect(await ctx.store.embeddings.newest({ ...q, model: 'm2' })).toEqual([]);
    const fact = await ctx.store.memory.addFact(owner, 'x', [b.seq]);
    await ctx.store.memory.forgetFact(owner, fact.id);
    expect((await ctx.store.embeddings.newest(q)).map((e) => e.seq)).toEqual([a.seq]);
    expect((await ctx.store.embeddings.lines([a.seq], 'aria')).map((l) => l.content)).toEqual(['first']);
    expect(await ctx.store.embeddings.lines([a.seq], 'nyx')).toEqual([]);
  });

  it('reads each vector once per process, and never serves a cached one under a model the row no longer has', async () => {
    const c = await conv();
    const a = await turn(c.id, 'first');
    const b = await turn(c.id, 'second');
    await ctx.store.embeddings.put([
      { seq: a.seq, conversationId: c.id, model: 'm1', vector: [1, 0] },
      { seq: b.seq, conversationId: c.id, model: 'm1', vector: [0, 1] },
    ]);
    let vectorReads = 0;
    const counted = ctx.store.db.withPlugin({
      transformQuery: (args) => {
        if (args.node.kind === 'SelectQueryNode' && JSON.stringify(args.node).includes('"vector"')) vectorReads++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    // Another process's repository: its cache starts empty.
    const reader = new EmbeddingRepo(counted);
    const q = { conversationId: c.id, model: 'm1', afterSeq: 0, beforeSeq: b.seq + 1, limit: 10 };
    expect((await reader.newest(q)).map((e) => e.seq)).toEqual([b.seq, a.seq]);
    expect((await reader.newest(q)).map((e) => e.seq)).toEqual([b.seq, a.seq]);
    expect(vectorReads).toBe(1);
    // Embedded again under another model by another process.
    await ctx.store.embeddings.put([{ seq: b.seq, conversationId: c.id, model: 'm2', vector: [3, 4] }]);
    expect((await reader.newest(q)).map((e) => e.seq)).toEqual([a.seq]);
    expect((await reader.newest({ ...q, model: 'm2' })).map((e) => [e.seq, [...e.vector], e.norm])).toEqual([[b.seq, [3, 4], 5]]);
    expect(vectorReads).toBe(2);
  });
});
