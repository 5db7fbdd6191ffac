import { mkdtempSync, rmSync } from 'node:fs';
import { sql } from 'kysely';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildContext, type TurnContext } from '../../src/engine/index.js';
import { countTokens } from '../../src/llm/index.js';
import { LongTermMemory } from '../../src/memory/index.js';
import { memoryProvider } from '../../src/memory/provider.js';
import { MAX_COMPARED, similarLines } from '../../src/memory/similar.js';
import type { Embedder } from '../../src/llm/index.js';
import { loadPresets } from '../../src/presets.js';
import { defaultPresetDir } from '../../src/engine-setup.js';
import { EmbeddingRepo, openStore, type Store } from '../../src/store/index.js';
import { createDatabase, dropDatabase, findOrStartPostgres, testDatabaseName } from '../helpers/pg-server.js';
import { inbound, startHarness, testLogger } from '../helpers/harness.js';
import { ms, percentile, ratio, timeEach } from './stats.js';

const CONTEXT = 2000;
const MEMORY_TOKENS = 800;
const RUNS = 200;

/**
 * Context assembly with long-term memory (facts, summary, full-text recall) against the plain
 * context build of the same conversation (the floor), at 100 and 100,000 stored messages, on
 * SQLite and PostgreSQL: the ratio should stay flat as history grows (recall is bounded by the
 * rare-word cut, the window by its token budget). Then what extraction costs per user turn in
 * tokens, and a turn's latency with memory attached against one without.
 */
export async function benchMemory(): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = {};
  const dir = mkdtempSync(join(tmpdir(), 'charbridge-bench-memory-'));
  const pg = await findOrStartPostgres();
  const pgNames: string[] = [];
  try {
    let files = 0;
    const backends: Array<[string, () => Promise<Store>]> = [['SQLite', () => openStore(join(dir, `memory${files++}.db`))]];
    if ('missing' in pg) out['PostgreSQL'] = `skipped: ${pg.missing}`;
    else {
      backends.push([
        'PostgreSQL',
        async () => {
          const name = testDatabaseName(process.pid);
          pgNames.push(name);
          return openStore(await createDatabase(pg.adminUrl, name));
        },
      ]);
    }
    // A fresh database per size: PostgreSQL's word statistics are read once a minute per store.
    for (const [label, open] of backends) {
      for (const size of [100, 100_000]) {
        const store = await open();
        try {
          await loadPresets(store, defaultPresetDir());
          const figures = await assembly(store, label, size);
          Object.assign(out, figures.out);
          if (size === 100) Object.assign(out, await meaningRecall(store, label, figures.floor));
        } finally {
          await store.close();
        }
      }
    }
    Object.assign(out, await extractionCost());
  } finally {
    if (!('missing' in pg)) {
      for (const n of pgNames) await dropDatabase(pg.adminUrl, n).catch(() => {});
      await pg.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function assembly(store: Store, label: string, size: number): Promise<{ out: Record<string, string>; floor: number }> {
  const character = (await store.characters.findVisible('aria', null))!;
  const conv = await store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: character.id });
  await store.messages.append({ conversationId: conv.id, role: 'user', kind: 'user', content: 'my cat is called Pixel', tokenCount: 6, authorName: 'Sam' });
  // Every message carries words common to all (dropped by recall at 100,000) and one of ~1,000
  // topics (rare at any size).
  for (let i = 0; i < size; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, size - i) }, (_, j) => {
      const n = i + j;
      const content = `message ${n} about topic${n % 997} and the usual words of today`;
      return {
        id: `msg_m${size}_${n}_${conv.id}`, conversation_id: conv.id, role: n % 2 ? 'assistant' : 'user', kind: n % 2 ? 'assistant' : 'user',
        content, image_urls: null, token_count: countTokens(content), author_id: n % 2 ? character.id : null, author_name: n % 2 ? 'Aria' : 'Sam', created_at: new Date().toISOString(),
      };
    });
    await store.db.insertInto('messages').values(rows).execute();
  }
  // What autovacuum does after a bulk load (plans, and recall's word frequencies, come from the
  // planner statistics); without it PostgreSQL plans even the plain window read for 2 rows.
  if (store.dialect === 'postgres') await sql`analyze messages, message_search`.execute(store.db);
  const owner = { ownerKey: `session:${conv.id}`, characterId: character.id };
  for (let i = 0; i < 50; i++) await store.memory.addFact(owner, `Sam fact number ${i}: likes thing ${i} a lot`);
  await store.memory.claim(conv.id, character.id, 'bench', 60_000);
  await store.memory.finish(conv.id, character.id, 'bench', { processedSeq: 0, summary: 'Sam and Aria talked about many topics over many days. They like the stars.' });
  const current = await store.messages.append({ conversationId: conv.id, role: 'user', kind: 'user', content: 'what about topic42 and my cat Pixel, the usual words of today?', tokenCount: 16, authorName: 'Sam' });
  const provider = memoryProvider({ store, config: { enabled: true, extractEvery: 6, maxFacts: 50, tokens: MEMORY_TOKENS, embeddingsModel: undefined }, contextTokens: CONTEXT, log: testLogger() });
  const base = { character, conversation: conv, userName: 'Sam', chatType: 'dm' as const, current, budgetTokens: CONTEXT };
  const floor = await timeEach(RUNS, () => buildContext(store.messages, base));
  let recalled = 0;
  const withMemory = await timeEach(RUNS, async () => {
    const blocks = await provider.blocks({ character, conversation: conv, userName: 'Sam', chatType: 'dm', current, turn: {} as TurnContext });
    recalled = blocks.find((b) => typeof b.position === 'object')?.text.split('\n').length ?? 1;
    return buildContext(store.messages, { ...base, blocks });
  });
  const [f, m] = [percentile(floor, 50), percentile(withMemory, 50)];
  return { out: { [`${label} @ ${size.toLocaleString('en')} msgs: context p50 plain / with memory (ratio; recalled lines)`]: `${ms(f)} / ${ms(m)} (${ratio(m, f)}; ${recalled - 1})` }, floor: f };
}

const DIMENSIONS = 1536;

/**
 * Recall by meaning (EMBEDDINGS_MODEL) in a conversation with more embedded messages than it
 * compares (MAX_COMPARED, at text-embedding-3-small's 1536 dimensions), against the plain context
 * build (`floor`): in a process that has not read those vectors yet, and in one that has.
 */
async function meaningRecall(store: Store, label: string, floor: number): Promise<Record<string, string>> {
  let seed = 7;
  const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const conv = await store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: 'preset_aria' });
  const seqs: number[] = [];
  for (let i = 0; i < MAX_COMPARED + 100; i++) {
    seqs.push((await store.messages.append({ conversationId: conv.id, role: i % 2 ? 'assistant' : 'user', kind: i % 2 ? 'assistant' : 'user', content: `line ${i}`, tokenCount: 3, authorId: i % 2 ? 'preset_aria' : null })).seq);
  }
  const vectors = seqs.map(() => Array.from({ length: DIMENSIONS }, next));
  for (let i = 0; i < seqs.length; i += 200) {
    await store.embeddings.put(seqs.slice(i, i + 200).map((seq, j) => ({ seq, conversationId: conv.id, model: 'bench-embed', vector: vectors[i + j]! })));
  }
  // Close to one stored line, so recall has something to find.
  const query = vectors[MAX_COMPARED + 40]!.map((x) => x + next() * 0.1);
  const current = await store.messages.append({ conversationId: conv.id, role: 'user', kind: 'user', content: 'what was that?', tokenCount: 4 });
  const embedder = { model: 'bench-embed', embed: async () => [query] } as unknown as Embedder;
  const recall = (from: Store) => similarLines({ store: from, embedder, log: testLogger() }, { conv, characterId: 'preset_aria', current, floorSeq: 0, beforeSeq: current.seq });
  let found = 0;
  const cold = await timeEach(20, async () => (found = (await recall({ ...store, embeddings: new EmbeddingRepo(store.db) })).length), 2);
  const warm = await timeEach(RUNS, () => recall(store));
  const [c, w] = [percentile(cold, 50), percentile(warm, 50)];
  return { [`${label}: recall by meaning over ${MAX_COMPARED} vectors p50, vectors not yet read / read (ratio to the plain context; lines)`]: `${ms(c)} / ${ms(w)} (${ratio(c, floor)} / ${ratio(w, floor)}; ${found})` };
}

/** Tokens extraction spends per user turn (MEMORY_EXTRACT_EVERY 6), and turn latency with and without memory. */
async function extractionCost(): Promise<Record<string, string>> {
  const TURNS = 120;
  const run = async (withMemory: boolean) => {
    const h = await startHarness({ config: { contextTokens: CONTEXT } });
    h.fake.respondWith('A short reply of about ten words for the benchmark run.');
    const memory = withMemory
      ? LongTermMemory.attach({
          engine: h.engine, store: h.store, model: h.model, clock: h.clock, log: h.log, instanceId: 'bench',
          config: { enabled: true, extractEvery: 6, maxFacts: 50, tokens: MEMORY_TOKENS, embeddingsModel: undefined }, contextTokens: CONTEXT,
        })
      : undefined;
    try {
      let n = 0;
      const samples = await timeEach(TURNS, async () => {
        await h.engine.handle(inbound({ text: `my plan number ${n++} is to visit city ${n % 37} next week` })).collect();
      }, 0);
      await memory?.idle();
      const rows = await h.store.db.selectFrom('usage').select(['kind', 'prompt_tokens', 'completion_tokens']).execute();
      const sum = (kind: string) => rows.filter((r) => r.kind === kind).reduce((t, r) => t + Number(r.prompt_tokens) + Number(r.completion_tokens), 0);
      return { p50: percentile(samples, 50), turnTokens: sum('turn'), memoryTokens: sum('memory'), calls: rows.filter((r) => r.kind === 'memory').length };
    } finally {
      await memory?.stop();
      await h.close();
    }
  };
  const plain = await run(false);
  const mem = await run(true);
  return {
    [`turn p50 without / with memory (${TURNS} turns, one DM)`]: `${ms(plain.p50)} / ${ms(mem.p50)} (${ratio(mem.p50, plain.p50)})`,
    'extraction tokens per user turn (vs reply tokens per turn)': `${Math.round(mem.memoryTokens / TURNS)} (${Math.round(mem.turnTokens / TURNS)}; ${mem.calls} extraction calls)`,
  };
}
