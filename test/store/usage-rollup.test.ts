import { expect, it } from 'vitest';
import { describeStores } from './backends.js';

const DAY = 86_400_000;
const D0 = Date.UTC(2026, 4, 1);

/** Usage reports read settled days from their daily sums and the rest from the turns: the figures are the same. */
describeStores('usage daily sums', (ctx) => {
  const record = (at: number, u: { key?: string | null; character?: string; model?: string | null; tokens?: number; credits?: number; error?: string; kind?: 'turn' | 'memory' }) => {
    ctx.clock.set(at);
    return ctx.store.usage.record({
      conversationId: 'c1', characterId: u.character ?? 'aria', apiKeyId: u.key ?? null, promptTokens: u.tokens ?? 10, completionTokens: 5,
      credits: u.credits ?? 1, model: u.model === undefined ? 'm1' : u.model, platform: 'api', errorCode: u.error ?? null, kind: u.kind ?? 'turn',
    });
  };

  it('sums each settled day once, reads the rest from the turns, and adds them up alike', async () => {
    await record(D0 + 1_000, { key: 'a' });
    await record(D0 + 2_000, { key: 'a', error: 'MODEL_ERROR', credits: 0 });
    await record(D0 + 3_000, { key: 'a', kind: 'memory', credits: 0 });
    await record(D0 + DAY + 50_000_000, { key: 'b', character: 'rook', model: null });
    await record(D0 + 2 * DAY + 10, { key: 'a', tokens: 100 });
    // Day 3, 30 minutes in: days 0-1 are settled, day 2 ended too recently to be.
    ctx.clock.set(D0 + 3 * DAY + 1_800_000);
    await record(D0 + 3 * DAY + 1_000_000, { key: 'b' });
    const report = (groupBy: 'day' | 'key' | 'model' | 'character', fromMs = D0, apiKeyId?: string) =>
      ctx.store.usage.report({ fromMs, toMs: ctx.clock.now() + 1, groupBy, ...(apiKeyId ? { apiKeyId } : {}) });
    const byDay = await report('day');
    expect(byDay.map((r) => [r.group, r.turns, r.modelErrors, r.promptTokens, r.credits])).toEqual([
      ['2026-05-01', 1, 1, 30, 1],
      ['2026-05-02', 1, 0, 10, 1],
      ['2026-05-03', 1, 0, 100, 1],
      ['2026-05-04', 1, 0, 10, 1],
    ]);
    const days = await ctx.store.db.selectFrom('usage_days').select('day').orderBy('day').execute();
    expect(days.map((d) => Number(d.day) * DAY)).toEqual([D0, D0 + DAY]);
    // The same again, days 0-1 now from their sums only.
    expect(await report('day')).toEqual(byDay);
    expect((await report('model')).map((r) => [r.group, r.turns])).toEqual([['m1', 3], [null, 1]]);
    expect((await report('key', D0, 'a')).map((r) => [r.group, r.turns, r.modelErrors, r.promptTokens])).toEqual([['a', 2, 1, 130]]);
    // From the middle of day 1: its earlier turn is out, read from the turns, not its day's sum.
    expect((await report('character', D0 + DAY + 60_000_000)).map((r) => [r.group, r.turns])).toEqual([['aria', 2]]);
    expect((await report('character', D0 + DAY + 40_000_000)).map((r) => [r.group, r.turns])).toEqual([['aria', 2], ['rook', 1]]);
  });

  it('sums a day once even when two reports race for it', async () => {
    await record(D0 + 1_000, { key: 'a' });
    ctx.clock.set(D0 + 2 * DAY);
    const q = { fromMs: D0, toMs: D0 + DAY, groupBy: 'day' as const };
    const [one, two] = await Promise.all([ctx.store.usage.report(q), ctx.store.usage.report(q)]);
    expect(one).toEqual(two);
    expect(one.map((r) => r.turns)).toEqual([1]);
    const sums = await ctx.store.db.selectFrom('usage_daily').select('turns').execute();
    expect(sums.map((r) => Number(r.turns))).toEqual([1]);
  });
});
