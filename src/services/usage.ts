import type { Clock } from '../core/clock.js';
import { ForbiddenError, ValidationError } from '../core/errors.js';
import type { Store, UsageFigures, UsageGroup, UsageReportRow } from '../store/index.js';
import type { Caller } from './access.js';

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A whole day named by its date includes all of it. */
function endOf(to: string): number {
  const ms = Date.parse(to);
  return DATE_ONLY.test(to) ? ms + DAY_MS : ms;
}

const withTotal = (f: UsageFigures) => ({ ...f, totalTokens: f.promptTokens + f.completionTokens });

export interface UsageReport {
  from: string;
  to: string;
  groupBy: UsageGroup;
  rows: Array<UsageFigures & { totalTokens: number; group: string | null; label: string }>;
  /** Groups past `limit`, left out of `rows` (their figures are in `totals`). */
  groupsLeftOut: number;
  totals: UsageFigures & { totalTokens: number };
}

/** Groups a report lists by default (largest first); the rest are counted in its totals. */
export const USAGE_ROWS_DEFAULT = 1000;

/**
 * Usage over a time range, grouped by day, character, model, platform or (admin) key. A tenant
 * only ever sees its own key's usage; the admin sees everything, platforms included. Groups other
 * than days are listed largest first up to `limit`: an instance with fifteen thousand characters
 * would otherwise answer a megabyte and look up every name. Days are never cut; the range bounds
 * them.
 */
export class UsageService {
  constructor(private readonly store: Store, private readonly clock: Clock) {}

  async report(caller: Caller, q: { from?: string | undefined; to?: string | undefined; groupBy: UsageGroup; limit?: number | undefined }): Promise<UsageReport> {
    const { groupBy } = q;
    if (!caller.isAdmin && groupBy === 'key') throw new ForbiddenError('Only the admin key can group usage by key');
    const apiKeyId = caller.isAdmin ? undefined : caller.keyId;
    // Without `to`, up to and including this moment.
    const toMs = q.to ? endOf(q.to) : this.clock.now() + 1;
    const fromMs = q.from ? Date.parse(q.from) : toMs - DEFAULT_DAYS * DAY_MS;
    if (fromMs >= toMs) throw new ValidationError('from must be before to', { field: 'from' });
    const all = await this.store.usage.report({ fromMs, toMs, groupBy, apiKeyId });
    const rows = groupBy === 'day' ? all : all.slice(0, q.limit ?? USAGE_ROWS_DEFAULT);
    const names = await this.labels(groupBy, rows);
    const totals = all.reduce<UsageFigures>(
      (t, r) => ({
        turns: t.turns + r.turns,
        promptTokens: t.promptTokens + r.promptTokens,
        completionTokens: t.completionTokens + r.completionTokens,
        credits: t.credits + r.credits,
        modelErrors: t.modelErrors + r.modelErrors,
      }),
      { turns: 0, promptTokens: 0, completionTokens: 0, credits: 0, modelErrors: 0 },
    );
    return {
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      groupBy,
      rows: rows.map((r) => ({ ...withTotal(r), group: r.group, label: names.get(r.group) ?? r.group ?? 'not recorded' })),
      groupsLeftOut: all.length - rows.length,
      totals: withTotal(totals),
    };
  }

  /** Human names for character and key groups. */
  private async labels(groupBy: UsageGroup, rows: UsageReportRow[]): Promise<Map<string | null, string>> {
    const out = new Map<string | null, string>();
    const ids = rows.flatMap((r) => (r.group ? [r.group] : []));
    if (groupBy === 'character') {
      const names = await this.store.characters.names(ids);
      for (const id of ids) out.set(id, names.get(id) ?? 'deleted character');
    } else if (groupBy === 'key') {
      for (const [id, name] of await this.store.apiKeys.names(ids)) out.set(id, name);
      out.set(null, 'no key (admin and platforms)');
    }
    return out;
  }
}
