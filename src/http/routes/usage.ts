import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { USAGE_GROUPS } from '../../store/index.js';
import { callerOf } from '../auth.js';
import { errorResponses, ErrorSchema, intParam, security } from '../schemas.js';
import { USAGE_ROWS_DEFAULT } from '../../services/usage.js';
import type { HttpContext } from '../context.js';


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
  limit: intParam('limit', 1, 10_000)
    .default(USAGE_ROWS_DEFAULT)
    .describe('Groups to list, largest first, 1-10000 (not days: the range bounds them); the rest are counted in `groupsLeftOut` and the totals'),
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
    groupsLeftOut: z.number().int().describe('Groups past `limit`, not listed; their figures are in `totals`'),
    totals: Figures,
  })
  .describe('UsageReport');

/**
 * Usage over a time range, grouped by day, character, model, platform or (admin) key. A tenant
 * only ever sees its own key's usage; the admin sees everything, platforms included.
 */
export function usageRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { usage } = ctx;

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
        return usage.report(callerOf(req), req.query);
      },
    );
  };
}
