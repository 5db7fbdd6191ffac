import { sql } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { DB } from './db.js';
import type { UsageRow } from './schema.js';
import { prepared } from './prepared.js';
import { DAY_MS, rollDays, settledDays } from './usage-rollup.js';

export interface UsageTotals {
  turns: number;
  promptTokens: number;
  completionTokens: number;
  credits: number;
}

/** What one report row adds up: successful turns, their tokens and credits, and failed model turns. */
export interface UsageFigures extends UsageTotals {
  modelErrors: number;
}

/** The dimensions a usage report can be grouped by. */
export const USAGE_GROUPS = ['day', 'character', 'model', 'platform', 'key'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageReportQuery {
  /** Epoch ms, inclusive. */
  fromMs: number;
  /** Epoch ms, exclusive. */
  toMs: number;
  groupBy: UsageGroup;
  /** Only this API key's usage (a tenant); undefined reports everything (the admin). */
  apiKeyId?: string | undefined;
}

/** One group of a report. `group` is the UTC day (YYYY-MM-DD), character id, model, platform or key id; null where unrecorded. */
export interface UsageReportRow extends UsageFigures {
  group: string | null;
}

/** One group's sums as either query returns them (PostgreSQL's bigint sums arrive as strings). */
interface GroupSums {
  g: string | number | null;
  turns: number | string;
  errors: number | string;
  p: number | string;
  c: number | string;
  cr: number | string;
}

type UsageValues = Omit<UsageRow, 'id' | 'kind'> & { kind: string };
const insertUsage = prepared((db, p: UsageValues) =>
  db.insertInto('usage').values({
    conversation_id: p.conversation_id, character_id: p.character_id, api_key_id: p.api_key_id, prompt_tokens: p.prompt_tokens, completion_tokens: p.completion_tokens,
    credits: p.credits, created_at: p.created_at, created_ms: p.created_ms, model: p.model, platform: p.platform, error_code: p.error_code, kind: p.kind,
  }),
);

/**
 * One row per model turn: tokens and credits of successful turns, the error code of failed ones,
 * by conversation, character, API key, model and platform.
 */
export class UsageRepo {
  constructor(private db: DB, private clock: Clock) {}

  async record(u: {
    conversationId: string;
    characterId: string;
    apiKeyId?: string | null;
    promptTokens: number;
    completionTokens: number;
    credits?: number;
    model?: string | null;
    platform?: string | null;
    /** Set for a failed model turn (no reply, nothing charged). */
    errorCode?: string | null;
    /** `memory` for a background extraction: its tokens count, never as a turn, never charged. */
    kind?: 'turn' | 'memory';
  }, within: DB = this.db): Promise<void> {
    const now = this.clock.now();
    await insertUsage.affected(within, {
      conversation_id: u.conversationId,
      character_id: u.characterId,
      api_key_id: u.apiKeyId ?? null,
      prompt_tokens: u.promptTokens,
      completion_tokens: u.completionTokens,
      credits: u.credits ?? 0,
      created_at: new Date(now).toISOString(),
      created_ms: now,
      model: u.model ?? null,
      platform: u.platform ?? null,
      error_code: u.errorCode ?? null,
      kind: u.kind ?? 'turn',
    });
  }

  /** Successful turns of one conversation (for /status); memory extractions add tokens, not turns. */
  async forConversation(conversationId: string): Promise<UsageTotals> {
    const r = await this.db
      .selectFrom('usage')
      .select((eb) => [
        sql<number>`coalesce(sum(case when kind = 'turn' then 1 else 0 end), 0)`.as('turns'),
        eb.fn.coalesce(eb.fn.sum<number>('prompt_tokens'), eb.val(0)).as('p'),
        eb.fn.coalesce(eb.fn.sum<number>('completion_tokens'), eb.val(0)).as('c'),
        eb.fn.coalesce(eb.fn.sum<number>('credits'), eb.val(0)).as('cr'),
      ])
      .where('conversation_id', '=', conversationId)
      .where('error_code', 'is', null)
      .executeTakeFirstOrThrow();
    return { turns: Number(r.turns), promptTokens: Number(r.p), completionTokens: Number(r.c), credits: Number(r.cr) };
  }

  /**
   * Figures per group over a time range, largest first (days in order). Days are UTC: the day
   * number is integer division of epoch ms, which SQLite and PostgreSQL compute alike. Settled
   * whole days come from the daily sums (`usage-rollup.ts`, summed by the first report that
   * needs them), the rest of the range from the turns themselves: a 30-day report reads about
   * two days of turns, however busy the other 28 were.
   */
  async report(q: UsageReportQuery): Promise<UsageReportRow[]> {
    const now = this.clock.now();
    const days = settledDays(q.fromMs, q.toMs, now);
    await rollDays(this.db, days, now);
    const parts =
      days.to > days.from
        ? [await this.rolledGroups(q, days), await this.rawGroups(q, q.fromMs, days.from * DAY_MS), await this.rawGroups(q, days.to * DAY_MS, q.toMs)]
        : [await this.rawGroups(q, q.fromMs, q.toMs)];
    const merged = new Map<string, UsageReportRow>();
    for (const r of parts.flat()) {
      const group = r.g === null ? null : q.groupBy === 'day' ? new Date(Number(r.g) * DAY_MS).toISOString().slice(0, 10) : String(r.g);
      const row = merged.get(String(group)) ?? { group, turns: 0, modelErrors: 0, promptTokens: 0, completionTokens: 0, credits: 0 };
      row.turns += Number(r.turns);
      row.modelErrors += Number(r.errors);
      row.promptTokens += Number(r.p);
      row.completionTokens += Number(r.c);
      row.credits += Number(r.cr);
      merged.set(String(group), row);
    }
    const out = [...merged.values()];
    return q.groupBy === 'day'
      ? out.sort((a, b) => String(a.group).localeCompare(String(b.group)))
      : out.sort((a, b) => b.turns + b.modelErrors - (a.turns + a.modelErrors) || String(a.group).localeCompare(String(b.group)));
  }

  /** Groups of the turns recorded in [fromMs, toMs). */
  private async rawGroups(q: UsageReportQuery, fromMs: number, toMs: number): Promise<GroupSums[]> {
    if (toMs <= fromMs) return [];
    const column = { day: null, character: 'character_id', model: 'model', platform: 'platform', key: 'api_key_id' }[q.groupBy];
    const groupExpr = column ? sql<string | number | null>`${sql.ref(column)}` : sql<string | number | null>`created_ms / ${sql.lit(DAY_MS)}`;
    let query = this.db
      .selectFrom('usage')
      .select([
        groupExpr.as('g'),
        sql<number>`sum(case when error_code is null and kind = 'turn' then 1 else 0 end)`.as('turns'),
        sql<number>`sum(case when error_code is null or kind <> 'turn' then 0 else 1 end)`.as('errors'),
        sql<number>`coalesce(sum(prompt_tokens), 0)`.as('p'),
        sql<number>`coalesce(sum(completion_tokens), 0)`.as('c'),
        sql<number>`coalesce(sum(credits), 0)`.as('cr'),
      ])
      .where('created_ms', '>=', fromMs)
      .where('created_ms', '<', toMs);
    if (q.apiKeyId !== undefined) query = query.where('api_key_id', '=', q.apiKeyId);
    return query.groupBy(groupExpr).execute();
  }

  /** Groups of the settled days' sums. */
  private async rolledGroups(q: UsageReportQuery, days: { from: number; to: number }): Promise<GroupSums[]> {
    const column = { day: 'day', character: 'character_id', model: 'model', platform: 'platform', key: 'api_key_id' }[q.groupBy];
    const groupExpr = q.groupBy === 'day' || q.groupBy === 'character' ? sql<string | number | null>`${sql.ref(column)}` : sql<string | null>`nullif(${sql.ref(column)}, '')`;
    let query = this.db
      .selectFrom('usage_daily')
      .select([
        groupExpr.as('g'),
        sql<number>`sum(turns)`.as('turns'),
        sql<number>`sum(errors)`.as('errors'),
        sql<number>`sum(prompt_tokens)`.as('p'),
        sql<number>`sum(completion_tokens)`.as('c'),
        sql<number>`sum(credits)`.as('cr'),
      ])
      .where('day', '>=', days.from)
      .where('day', '<', days.to);
    if (q.apiKeyId !== undefined) query = query.where('api_key_id', '=', q.apiKeyId);
    return query.groupBy(groupExpr).execute();
  }
}
