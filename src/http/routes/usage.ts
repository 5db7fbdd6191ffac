import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ForbiddenError, ValidationError } from '../../core/errors.js';
import { USAGE_GROUPS, type UsageFigures, type UsageGroup, type UsageReportRow } from '../../store/index.js';
import type { Caller } from '../../services/access.js';
import { callerOf } from '../auth.js';
import { errorResponses, ErrorSchema, security } from '../schemas.js';
import type { HttpContext } from '../context.js';

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

const time = (field: string) =>
  z
    .string()
    .max(40, `${field} must be a date (YYYY-MM-DD) or an ISO 8601 time`)
    .refine((v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d{2}-\d{2}/.test(v), `${field} must be a date (YYYY-MM-DD) or an ISO 8601 time`)
    .optional();

const UsageQuery = z.object({
  from: time('from').describe('Start, inclusive: a UTC date (YYYY-MM-DD) or an ISO time; default 30 days before `to`'),
  to: time('to').describe('End: a date includes that whole UTC day; an ISO time is exclusive; default now'),
  groupBy: z
    .enum(USAGE_GROUPS, { error: `groupBy must be one of ${USAGE_GROUPS.join(', ')}` })
    .default('day')
    .describe('day (UTC), character, model, platform, or key (admin only)'),
});

const Figures = z.object({
  turns: z.number().int().describe('Model turns that produced a reply'),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
  credits: z.number().int().describe('Credits charged to API keys'),
  modelErrors: z.number().int().describe('Model turns that failed (nothing charged)'),
});

const UsageResponse = z
  .object({
    from: z.string(),
    to: z.string(),
    groupBy: z.enum(USAGE_GROUPS),
    rows: z.array(
      Figures.extend({
        group: z.string().nullable().describe('The UTC day, character id, model, platform or key id; null when it was not recorded'),
        label: z.string().describe('For people: the day, character name, model, platform or key name'),
      }),
    ),
    totals: Figures,
  })
  .describe('UsageReport');

/** Where `to` ends: a bare date means the end of that UTC day. */
function endOf(to: string): number {
  const ms = Date.parse(to);
  return DATE_ONLY.test(to) ? ms + DAY_MS : ms;
}

const withTotal = (f: UsageFigures) => ({ ...f, totalTokens: f.promptTokens + f.completionTokens });

/**
 * Usage over a time range, grouped by day, character, model, platform or (admin) key. A tenant
 * only ever sees its own key's usage; the admin sees everything, platforms included.
 */
export function usageRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { store } = ctx;

  async function labels(groupBy: UsageGroup, rows: UsageReportRow[]): Promise<Map<string | null, string>> {
    const out = new Map<string | null, string>();
    if (groupBy === 'character') {
      for (const r of rows) if (r.group) out.set(r.group, (await store.characters.get(r.group))?.name ?? 'deleted character');
    } else if (groupBy === 'key') {
      for (const k of await store.apiKeys.list()) out.set(k.id, k.name);
      out.set(null, 'no key (admin and platforms)');
    }
    return out;
  }

  function scope(caller: Caller, groupBy: UsageGroup): string | undefined {
    if (caller.isAdmin) return undefined;
    if (groupBy === 'key') throw new ForbiddenError('Only the admin key can group usage by key');
    return caller.keyId;
  }

  return async (app) => {
    app.get(
      '/usage',
      {
        schema: {
          tags: ['usage'],
          summary: 'Turns, tokens, credits and model errors over a time range, grouped',
          security,
          querystring: UsageQuery,
          response: { 200: UsageResponse, ...errorResponses, 403: ErrorSchema.describe('groupBy=key needs the admin key') },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const { groupBy } = req.query;
        const apiKeyId = scope(caller, groupBy);
        // Without `to`, up to and including this moment.
        const toMs = req.query.to ? endOf(req.query.to) : ctx.engine.deps.clock.now() + 1;
        const fromMs = req.query.from ? Date.parse(req.query.from) : toMs - DEFAULT_DAYS * DAY_MS;
        if (fromMs >= toMs) throw new ValidationError('from must be before to', { field: 'from' });
        const rows = await store.usage.report({ fromMs, toMs, groupBy, apiKeyId });
        const names = await labels(groupBy, rows);
        const totals = rows.reduce<UsageFigures>(
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
          totals: withTotal(totals),
        };
      },
    );
  };
}
