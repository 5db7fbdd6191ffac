/** Long-term memory end to end: the real engine and extractor against the fake OpenAI server. */
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { LongTermMemory, memoryOwnerOf, type MemoryConfig } from '../../src/memory/index.js';
import { INDEX_EVERY } from '../../src/memory/search-index.js';
import { Extractor } from '../../src/memory/extractor.js';
import { ManualClock } from '../../src/core/clock.js';
import { conversationPrefix } from '../../src/store/search-terms.js';
import { OfflineModel } from '../../src/llm/index.js';
import { inbound, say, seen, startHarness, type Harness } from '../helpers/harness.js';
import type { InboundMessage } from '../../src/core/types.js';

let h: Harness | undefined;
let memory: LongTermMemory | undefined;
afterEach(async () => {
  await memory?.stop();
  await h?.close();
  h = memory = undefined;
});

const CONTEXT = 900;

async function start(over: Partial<MemoryConfig> = {}, maxRetries = 2) {
  h = await startHarness({ config: { contextTokens: CONTEXT }, maxRetries });
  const embeddingsModel = over.embeddingsModel;
  memory = LongTermMemory.attach({
    engine: h.engine,
    store: h.store,
    model: h.model,
    clock: h.clock,
    log: h.log,
    config: { enabled: true, extractEvery: 2, maxFacts: 50, tokens: 250, embeddingsModel: undefined, ...over },
    contextTokens: CONTEXT,
    instanceId: 'test',
    embedder: embeddingsModel ? h.model.embedder(embeddingsModel) : undefined,
  });
  return { h, memory };
}

/** Say something and let the background extraction it started finish. */
async function tell(msg: Partial<InboundMessage>) {
  const r = await say(h!.engine, inbound(msg));
  await memory!.idle();
  return r;
}

const filler = (i: number) => `Filler message number ${i}: ${'la '.repeat(40)}`;
const lastRequest = () => seen(h!.fake).join('\n');

describe('long-term memory', () => {
  it('remembers a fact told early, after it left the context window', async () => {
    await start();
    await tell({ text: 'my cat is called Pixel' });
    for (let i = 0; i < 12; i++) await tell({ text: filler(i) });
    await tell({ text: "what's my cat called?" });
    const req = seen(h!.fake);
    expect(req.filter((l) => l.includes('my cat is called Pixel') && l.startsWith('user:'))).toEqual([]); // not from the window
    expect(req[0]).toContain('Sam: my cat is called Pixel'); // the fact, after the character definition
    expect(h!.fake.jsonRequests.length).toBeGreaterThan(0);
    expect(h!.fake.jsonRequests[0]!.body.response_format).toEqual({ type: 'json_object' });
    // Aria's card says what she should remember.
    expect(h!.fake.jsonRequests[0]!.body.messages[0].content).toContain('What this character should remember: What matters to the user: the people and pets');
    const usage = await h!.store.db.selectFrom('usage').select(['kind', 'credits']).where('kind', '=', 'memory').execute();
    expect(usage.length).toBe(h!.fake.jsonRequests.length);
    expect(usage.every((u) => Number(u.credits) === 0)).toBe(true);
  });

  it('recalls a distinctive older line with extraction learning nothing', async () => {
    await start({ extractEvery: 0 });
    h!.fake.respondJsonWith('{}');
    await tell({ text: 'We went to Zanzibar for the honeymoon' });
    for (let i = 0; i < 12; i++) await tell({ text: filler(i) });
    await tell({ text: 'Do you remember zanzibar?' });
    const req = seen(h!.fake);
    const recalled = req.find((l) => l.startsWith('system: Earlier in this conversation'));
    expect(recalled).toContain('Sam: We went to Zanzibar for the honeymoon');
    expect(req.at(-2)).toBe(recalled); // right before the message being answered
    expect(req.at(-1)).toBe('user: Do you remember zanzibar?');
  });

  it('with EMBEDDINGS_MODEL also recalls by meaning what no full-text word finds', async () => {
    await start({ extractEvery: 0, embeddingsModel: 'fake-embed' });
    h!.fake.respondJsonWith('{}');
    await tell({ text: 'We flew to Oz' });
    for (let i = 0; i < 12; i++) await tell({ text: filler(i) });
    await tell({ text: 'Oz?' }); // a two-letter word: too short for full-text search
    expect(h!.fake.embeddingRequests[0]).toMatchObject({ model: 'fake-embed', encoding_format: 'float' });
    const recalled = seen(h!.fake).find((l) => l.startsWith('system: Earlier in this conversation'));
    expect(recalled).toContain('Sam: We flew to Oz');
  });

  it('forgets a fact for good, adds one by hand, and /clear keeps memory', async () => {
    await start();
    await tell({ text: 'my sister is called Ilse' });
    await tell({ text: 'ok' });
    expect((await tell({ text: '/memory' })).notices[0]).toMatch(/1\. Sam: my sister is called Ilse/);
    expect((await tell({ text: '/memory add Prefers tea to coffee' })).notices[0]).toMatch(/will remember/);
    expect((await tell({ text: '/clear' })).notices[0]).toMatch(/Context cleared/);
    await tell({ text: 'hello again' });
    expect(lastRequest()).toContain('Prefers tea to coffee');
    expect(lastRequest()).toContain('my sister is called Ilse');
    expect((await tell({ text: '/memory forget 1' })).notices[0]).toMatch(/Forgotten: Sam: my sister is called Ilse/);
    await tell({ text: 'what is my sister called? Ilse?' });
    expect(lastRequest()).not.toMatch(/sister is called/);
    expect(lastRequest()).toContain('Prefers tea to coffee');
    expect((await tell({ text: '/memory clear' })).notices[0]).toMatch(/memory here is empty now/);
    expect(await h!.store.db.selectFrom('memory_facts').selectAll().execute()).toEqual([]);
    await tell({ text: 'tea?' });
    expect(lastRequest()).not.toContain('Prefers tea');
  });

  it('keeps memory apart: per-user group members, another DM, another character', async () => {
    await start();
    await tell({ text: 'my password hint is Walrus' });
    await tell({ text: 'ok' });
    await tell({ userId: '2', chatId: '2', userName: 'Kim', text: 'hi there' });
    expect(lastRequest()).not.toContain('Walrus');
    const group = { chatType: 'group' as const, chatId: '-100', mentioned: true };
    await tell({ ...group, userId: '999', userName: 'Admin', senderIsAdmin: true, text: '/scope per-user' });
    await tell({ ...group, userId: '1', text: 'my boat is the Albatross' });
    await tell({ ...group, userId: '1', text: 'ok' });
    await tell({ ...group, userId: '2', userName: 'Kim', text: 'hello bot' });
    expect(lastRequest()).not.toMatch(/Albatross|Walrus/);
    await tell({ ...group, userId: '1', text: 'and me?' });
    expect(lastRequest()).toContain('Albatross');
    expect(lastRequest()).not.toContain('Walrus'); // the DM's memory stays in the DM
    const other = await h!.store.db.selectFrom('characters').select('slug').where('slug', '<>', 'aria').executeTakeFirstOrThrow();
    await tell({ text: `/character ${other.slug}` });
    await tell({ text: 'who am I?' });
    expect(lastRequest()).not.toContain('Walrus');
  });

  it('in a shared group only chat admins change memory', async () => {
    await start();
    const group = { chatType: 'group' as const, chatId: '-200', mentioned: true };
    const r = await tell({ ...group, userId: '5', text: '/memory add the group is called Owls' });
    expect(r.notices[0]).toMatch(/Only chat admins/);
    const ok = await tell({ ...group, userId: '999', senderIsAdmin: true, text: '/memory add the group is called Owls' });
    expect(ok.notices[0]).toMatch(/will remember/);
    expect((await tell({ ...group, userId: '5', text: '/memory' })).notices[0]).toMatch(/1\. the group is called Owls/);
  });

  it('ignores an answer that is not JSON, and answers the turn regardless', async () => {
    const { h } = await start();
    h.fake.respondJsonWith('sorry, I cannot do JSON');
    await tell({ text: 'my dog is Rex' });
    expect((await tell({ text: 'ok' })).reply).toBe('Echo: ok');
    expect(h.fake.jsonRequests.length).toBe(1);
    expect(await h.store.db.selectFrom('memory_facts').selectAll().execute()).toEqual([]);
    const [progress] = await h.store.db.selectFrom('memory_progress').select('processed_seq').execute();
    expect(Number(progress!.processed_seq)).toBeGreaterThan(0); // skipped, not retried forever
  });

  it('tries again later when the model fails, and keeps the cap when full', async () => {
    const { h } = await start({ maxFacts: 2 }, 0);
    let fail = true;
    h.fake.respondJsonWith(() => {
      if (fail) throw new Error('down');
      return '{"facts": ["Fact one", "Fact two", "Fact three"], "summary": "All told."}';
    });
    await tell({ text: 'first thing' });
    await tell({ text: 'second thing' });
    expect(h.fake.jsonRequests.length).toBe(1);
    expect(await h.store.db.selectFrom('memory_progress').select('processed_seq').execute()).toEqual([{ processed_seq: 0 }]);
    fail = false;
    await tell({ text: 'third thing' });
    expect(h.fake.jsonRequests.length).toBe(2);
    expect(h.fake.jsonRequests[1]!.body.messages[1].content).toContain('[user] Sam: first thing'); // the failed batch, read again
    expect((await h.store.db.selectFrom('memory_facts').select('text').orderBy('id').execute()).map((f) => f.text)).toEqual(['Fact two', 'Fact three']);
    await tell({ text: 'fourth thing' });
    await tell({ text: 'fifth thing' });
    expect(h.fake.jsonRequests[2]!.body.messages[0].content).toContain('The memory is full (2 facts)');
  });

  it('a character new to the conversation reads only its own turns', async () => {
    const { h } = await start();
    await tell({ text: 'my secret for Aria is Marmalade' });
    await tell({ text: 'ok' });
    const other = await h.store.db.selectFrom('characters').select('slug').where('slug', '<>', 'aria').executeTakeFirstOrThrow();
    await tell({ text: `/character ${other.slug}` });
    await tell({ text: 'my name is Sam' });
    await tell({ text: 'hi' });
    const last = h.fake.jsonRequests.at(-1)!.body.messages[1].content as string;
    expect(last).toContain('[user] Sam: my name is Sam');
    expect(last).not.toContain('Marmalade');
    expect(seen(h.fake)[0]).not.toContain('Marmalade');
  });

  it("threads share their group's facts; proactive turns see them too", async () => {
    const { h } = await start();
    const group = { chatType: 'group' as const, chatId: '-300', mentioned: true, userId: '999', senderIsAdmin: true };
    await tell({ ...group, text: '/memory add The group meets on Fridays' });
    await tell({ ...group, chatType: 'thread', threadId: '7', text: 'when do we meet?' });
    expect(seen(h.fake)[0]).toContain('- The group meets on Fridays');
    await tell({ text: '/memory add Exam on Monday' });
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const character = await h.engine.characterOf(conv);
    const { result } = h.engine.turn({ source: 'scheduler', conversation: conv, character, chatType: 'dm', userName: 'Sam', replyKind: 'proactive', instruction: '[proactive] check in' });
    expect((await result).ok).toBe(true);
    expect(seen(h.fake)[0]).toContain('- Exam on Monday');
    expect(seen(h.fake)[0]).not.toContain('Fridays');
  });

  it('with the offline model only /memory add fills memory, and /memory says so', async () => {
    h = await startHarness({ config: { contextTokens: CONTEXT } });
    memory = LongTermMemory.attach({
      engine: h.engine, store: h.store, clock: h.clock, log: h.log, contextTokens: CONTEXT, instanceId: 'test', model: new OfflineModel(),
      config: { enabled: true, extractEvery: 1, maxFacts: 50, tokens: 250, embeddingsModel: undefined },
    });
    expect((await tell({ text: '/memory add Likes jazz' })).notices[0]).toMatch(/will remember/);
    await tell({ text: 'my name is Sam' });
    expect((await tell({ text: '/memory' })).notices[0]).toMatch(/1\. Likes jazz\n[\s\S]*offline model learns nothing by itself: only \/memory add/);
    expect(h.fake.jsonRequests).toEqual([]);
  });

  it('MEMORY_ENABLED=false: nothing extracted, nothing added to the context, /memory says so', async () => {
    const { h } = await start({ enabled: false, extractEvery: 1 });
    const conv = await h.store.conversations.getOrCreateByScope('telegram:1', { platform: 'telegram', chatType: 'dm' });
    await h.store.memory.addFact({ ownerKey: 'telegram:1', characterId: (await h.engine.characterOf(conv)).id }, 'Kept from before');
    await tell({ text: 'my name is Sam' });
    expect(lastRequest()).not.toContain('Kept from before');
    expect(h.fake.jsonRequests).toEqual([]);
    expect((await tell({ text: '/memory' })).notices[0]).toBe('Long-term memory is turned off on this server.');
  });

  it('never makes a reply wait for extraction', async () => {
    const { h, memory } = await start({ extractEvery: 1 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    h.fake.respondJsonWith(async () => {
      await held;
      return '{"facts": ["Sam likes kites"]}';
    });
    expect((await say(h.engine, inbound({ text: 'I like kites' }))).reply).toBe('Echo: I like kites');
    expect((await say(h.engine, inbound({ text: 'second' }))).reply).toBe('Echo: second');
    expect(memory.status.active).toBe(1);
    release();
    await memory.idle();
    expect((await h.store.db.selectFrom('memory_facts').select('text').execute()).map((f) => f.text)).toEqual(['Sam likes kites']);
  });

  // SQLite only: PostgreSQL's index is kept by a trigger (migration 043).
  it.skipIf(process.env.CHARBRIDGE_TEST_STORE === 'postgres')("indexes stored messages for recall in background batches, not in each message's commit", async () => {
    await start({ enabled: false });
    const progress = async () => {
      const r = await sql<{ at: number; top: number }>`select (select indexed_seq from message_fts_progress) as at, (select max(seq) from messages) as top`.execute(h!.store.db);
      return { at: Number(r.rows[0]!.at), top: Number(r.rows[0]!.top) };
    };
    await tell({ text: 'the zeppelin line' });
    const early = await progress();
    expect(early.at).toBeLessThan(early.top); // stored, not indexed yet
    for (let i = 1; i < INDEX_EVERY / 2; i++) await tell({ text: `line ${i}` });
    await memory!.idle();
    const after = await progress();
    expect(after.at).toBe(after.top); // the INDEX_EVERYth message started a pass that indexed them all
    const line = await h!.store.db.selectFrom('messages').select('conversation_id').where('content', '=', 'the zeppelin line').executeTakeFirstOrThrow();
    const hits = await sql<{ content: string }>`select m.content from message_fts join messages m on m.seq = message_fts.rowid where message_fts match ${`"${conversationPrefix(line.conversation_id)}zeppelin"`} and m.role = 'user'`.execute(h!.store.db);
    expect(hits.rows.map((r) => r.content)).toEqual(['the zeppelin line']);
  });

  it('takes no lease while it waits for the model: a long queue never lets two processes extract the same messages', async () => {
    const clock = new ManualClock();
    h = await startHarness({ config: { contextTokens: CONTEXT }, clock });
    await say(h.engine, inbound({ text: 'my sister lives in Porto' }));
    await say(h.engine, inbound({ text: 'she has a dog' }));
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const character = await h.engine.characterOf(conv);
    // The model is busy with other work: this process's extraction waits in line for it.
    let asked!: () => void;
    const waiting = new Promise<void>((r) => (asked = r));
    let turnAtModel!: () => void;
    const free = new Promise<void>((r) => (turnAtModel = r));
    const extractor = new Extractor({
      store: h.store, model: h.model, clock: h.clock, log: h.log, contextTokens: CONTEXT, instanceId: 'waiting-process',
      config: { enabled: true, extractEvery: 2, maxFacts: 50, tokens: 250, embeddingsModel: undefined },
      modelSlot: async () => {
        asked();
        await free;
        return () => {};
      },
    });
    extractor.notify(conv, character);
    await waiting;
    // Longer than an extraction's lease: another process extracts the same messages meanwhile.
    clock.advance(180_000);
    const [top] = await h.store.messages.newest(conv.id, { limit: 1 });
    expect(await h.store.memory.claim(conv.id, character.id, 'another-process', 60_000)).toBe(true);
    await h.store.memory.addFact(memoryOwnerOf(conv, character), 'Has a sister in Porto');
    await h.store.memory.finish(conv.id, character.id, 'another-process', { processedSeq: top!.seq, summary: 'Told of a sister in Porto.' });
    turnAtModel();
    await extractor.idle();
    expect(h.fake.jsonRequests.length).toBe(0);
    expect((await h.store.memory.facts(memoryOwnerOf(conv, character))).map((f) => f.text)).toEqual(['Has a sister in Porto']);
  });

  it('does not extract again what another process extracted while the turn ran', async () => {
    await start({ extractEvery: 2 });
    await tell({ text: 'my sister lives in Porto' });
    expect(h!.fake.jsonRequests.length).toBe(0); // one user turn unread: not due yet
    // While the next turn is with the model, another process extracts everything stored so far.
    h!.fake.respondWith(async () => {
      const conv = (await h!.store.conversations.getByScope('telegram:1'))!;
      const characterId = (await h!.engine.characterOf(conv)).id;
      const [top] = await h!.store.messages.newest(conv.id, { limit: 1 });
      expect(await h!.store.memory.claim(conv.id, characterId, 'another-process', 60_000)).toBe(true);
      await h!.store.memory.finish(conv.id, characterId, 'another-process', { processedSeq: top!.seq, summary: 'Told of a sister in Porto.' });
      return 'Noted.';
    });
    await tell({ text: 'she has a dog' });
    // Due by what the turn read at its start (two user turns), not by what is stored now.
    expect(h!.fake.jsonRequests.length).toBe(0);
    const conv = (await h!.store.conversations.getByScope('telegram:1'))!;
    expect((await h!.store.memory.progress(conv.id, (await h!.engine.characterOf(conv)).id)).summary).toBe('Told of a sister in Porto.');
  });
});
