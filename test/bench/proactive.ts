import { ms } from './stats.js';
import { startProactiveHarness } from '../scheduler/helpers.js';

/**
 * One scheduler tick over 100,000 conversations of which 1% are due: the due query is an index
 * range scan, so the tick's cost follows the 1,000 due conversations, not the 100,000 stored.
 * Floor: the same number of plain engine turns (model call + persist) in the same run.
 */
export async function benchProactive(): Promise<Record<string, string | number>> {
  const { h, clock, target, scheduler } = await startProactiveHarness();
  const out: Record<string, string | number> = {};
  try {
    h.fake.respondWith('Checking in — how are you doing?');
    const TOTAL = 100_000;
    const DUE = 1_000;
    const now = clock.now();
    const aria = (await h.store.characters.findVisible('aria', null))!;
    await h.store.db.transaction().execute(async (tx) => {
      for (let i = 0; i < TOTAL; i += 1000) {
        const rows = Array.from({ length: 1000 }, (_, j) => {
          const n = i + j;
          const iso = new Date(now - 120 * 60_000).toISOString();
          return {
            id: `conv_b${n}`, scope_key: `api:bench${n}`, platform: 'api', chat_type: 'dm', owner_id: 'bench', character_id: aria.id,
            context_start_seq: 0, metadata: null, message_count: 1, created_at: iso, updated_at: iso, last_user_at: iso, last_assistant_at: null,
            // 1% are due now; the rest are due at some point in the next week.
            proactive_next_at: n % 100 === 0 ? now - 1000 : now + 3600_000 + n * 5000,
          };
        });
        await tx.insertInto('conversations').values(rows).execute();
      }
    });
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const dueQueryStart = performance.now();
    const dueIds = await h.store.proactive.due(now, 10_000);
    const dueQueryMs = performance.now() - dueQueryStart;
    const t0 = performance.now();
    const report = await scheduler.tick();
    const tickMs = performance.now() - t0;
    const heapAfter = process.memoryUsage().heapUsed;
    out['conversations stored / due'] = `${TOTAL.toLocaleString('en')} / ${dueIds.length}`;
    out['due query (index range scan)'] = ms(dueQueryMs);
    out['tick: sent / delivered'] = `${report.sent} / ${target.delivered.length}`;
    out['tick wall time'] = ms(tickMs);
    out['tick per due conversation'] = ms(tickMs / Math.max(1, report.sent));
    out['heap growth during tick'] = `${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB`;
    out['rss after tick'] = `${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`;

    // Floor: DUE plain engine turns through the same fake model, same run.
    const convs = await Promise.all(Array.from({ length: 50 }, () => h.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'bench', characterId: aria.id })));
    const f0 = performance.now();
    for (let i = 0; i < 200; i++) {
      const { result } = h.engine.turn({ source: 'api', conversation: convs[i % 50]!, character: aria, chatType: 'dm', userName: 'U', user: { text: 'hi', imageUrls: [], authorId: null, authorName: null } });
      await result;
    }
    const perTurn = (performance.now() - f0) / 200;
    out['floor: one sequential engine turn'] = ms(perTurn);
    out['tick per due conversation / floor'] = `${(tickMs / Math.max(1, report.sent) / perTurn).toFixed(2)}× (16 in parallel)`;
    void DUE;
  } finally {
    await h.close();
  }
  return out;
}
