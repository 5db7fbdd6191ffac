import OpenAI from 'openai';
import { percentile, ms, ratio, timeEach } from './stats.js';
import { inbound, startHarness } from '../helpers/harness.js';
import { buildContext } from '../../src/engine/index.js';
import { countTokens } from '../../src/llm/index.js';

/**
 * Engine overhead per turn against the floor of a bare openai SDK streaming call to the same
 * fake model, turns per second with many chats at once, and the cost of building the context
 * as history grows (it should stay flat: the window is read newest-first through an index).
 */
export async function benchEngine(): Promise<Record<string, string | number>> {
  const h = await startHarness({ config: { contextTokens: 2000 }, concurrency: 64 });
  const out: Record<string, string | number> = {};
  try {
    h.fake.respondWith('A short reply of about ten words for the benchmark run.');
    const sdk = new OpenAI({ apiKey: h.fake.apiKey, baseURL: h.fake.baseURL, maxRetries: 0 });
    const N = 300;
    const floor = await timeEach(N, async () => {
      const s = await sdk.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hello' }], stream: true });
      for await (const _ of s) void _;
    });
    let n = 0;
    const turns = await timeEach(N, async () => {
      const res = await h.engine.handle(inbound({ chatId: String(n % 20), userId: String(n % 20), text: `hello ${n++}` })).collect();
      if (!res.some((e) => e.type === 'done')) throw new Error('turn failed');
    });
    const f50 = percentile(floor, 50);
    const f99 = percentile(floor, 99);
    const t50 = percentile(turns, 50);
    const t99 = percentile(turns, 99);
    out['floor: bare SDK stream p50 / p99'] = `${ms(f50)} / ${ms(f99)}`;
    out['engine turn p50 / p99'] = `${ms(t50)} / ${ms(t99)}`;
    out['engine turn / floor (p50, p99)'] = `${ratio(t50, f50)}, ${ratio(t99, f99)}`;
    out['engine overhead p50'] = ms(t50 - f50);

    const CHATS = 50;
    const PER = 10;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CHATS }, async (_, c) => {
        for (let i = 0; i < PER; i++) await h.engine.handle(inbound({ chatId: `tp${c}`, userId: `tp${c}`, text: `x${i}` })).collect();
      }),
    );
    out[`turns per second (${CHATS} chats × ${PER})`] = Math.round((CHATS * PER) / ((performance.now() - t0) / 1000));

    const character = (await h.store.characters.findVisible('aria', null))!;
    for (const size of [100, 10_000, 100_000]) {
      const conv = await h.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: null });
      const text = 'a stored message of a dozen tokens or so for the benchmark';
      const tokens = countTokens(text);
      await h.store.db.transaction().execute(async (tx) => {
        for (let i = 0; i < size; i += 500) {
          const rows = Array.from({ length: Math.min(500, size - i) }, (_, j) => ({
            id: `msg_b${size}_${i + j}`, conversation_id: conv.id, role: (i + j) % 2 ? 'assistant' : 'user', kind: (i + j) % 2 ? 'assistant' : 'user',
            content: text, image_urls: null, token_count: tokens, author_id: null, author_name: null, created_at: new Date().toISOString(),
          }));
          await tx.insertInto('messages').values(rows).execute();
        }
      });
      let rowsRead = 0;
      const samples = await timeEach(200, async () => {
        const b = await buildContext(h.store.messages, { character, conversation: conv, userName: 'Sam', chatType: 'dm', budgetTokens: 2000 });
        rowsRead = b.rowsRead;
      });
      out[`context build @ ${size.toLocaleString('en')} msgs p50 (rows read)`] = `${ms(percentile(samples, 50))} (${rowsRead})`;
    }
  } finally {
    await h.close();
  }
  return out;
}
