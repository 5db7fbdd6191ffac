import { sql } from 'kysely';
import type { DB } from './db.js';

export const DAY_MS = 86_400_000;

/**
 * A day is summed once it has been over this long: an instance whose clock is behind may still
 * stamp a row into it until then. Reports read the days after it from `usage` itself.
 */
export const SETTLE_MS = 3_600_000;

/**
 * The whole UTC days of [fromMs, toMs) that are settled at `now`, as day numbers [from, to);
 * empty when there is none. The rest of the range (partial days at either end, recent days) is
 * read from the turns themselves.
 */
export function settledDays(fromMs: number, toMs: number, now: number): { from: number; to: number } {
  const from = Math.ceil(fromMs / DAY_MS);
  const to = Math.floor(Math.min(toMs, now - SETTLE_MS) / DAY_MS);
  return { from, to: Math.max(from, to) };
}

/**
 * Make sure every day of [from, to) since the first recorded turn has its sums in `usage_daily`:
 * each missing day is summed from `usage` in one transaction that first lists it in
 * `usage_days`, so two instances never both sum it (the second finds it listed and leaves it).
 * Paid once per day, by the first report that reads it.
 */
export async function rollDays(db: DB, days: { from: number; to: number }, now: number): Promise<void> {
  if (days.to <= days.from) return;
  const first = await db.selectFrom('usage').select((eb) => eb.fn.min('created_ms').as('at')).executeTakeFirst();
  if (first?.at === null || first?.at === undefined) return;
  const from = Math.max(days.from, Math.floor(Number(first.at) / DAY_MS));
  const listed = await db.selectFrom('usage_days').select('day').where('day', '>=', from).where('day', '<', days.to).execute();
  const done = new Set(listed.map((r) => Number(r.day)));
  for (let day = from; day < days.to; day++) {
    if (done.has(day)) continue;
    await db.transaction().execute(async (tx) => {
      const marked = await tx.insertInto('usage_days').values({ day, rolled_ms: now }).onConflict((oc) => oc.column('day').doNothing()).executeTakeFirst();
      if (Number(marked.numInsertedOrUpdatedRows ?? 0) === 0) return;
      await sql`insert into usage_daily (day, api_key_id, character_id, model, platform, turns, errors, prompt_tokens, completion_tokens, credits)
        select ${day}, coalesce(api_key_id, ''), character_id, coalesce(model, ''), coalesce(platform, ''),
          sum(case when error_code is null and kind = 'turn' then 1 else 0 end),
          sum(case when error_code is null or kind <> 'turn' then 0 else 1 end),
          coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), coalesce(sum(credits), 0)
        from usage where created_ms >= ${day * DAY_MS} and created_ms < ${(day + 1) * DAY_MS}
        group by coalesce(api_key_id, ''), character_id, coalesce(model, ''), coalesce(platform, '')`.execute(tx);
    });
  }
}
