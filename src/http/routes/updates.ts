import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Update } from '../../store/index.js';
import { callerOf } from '../auth.js';
import { errorResponses, intParam, MessageSchema, security } from '../schemas.js';
import type { HttpContext } from '../context.js';

/** The longest a long-poll may wait (seconds): long enough to save requests, short enough for proxies. */
export const MAX_WAIT_S = 30;

const Query = z.object({
  since: z.iso
    .datetime({ offset: true, error: 'since must be an ISO 8601 date-time, e.g. 2024-01-15T10:00:00Z' })
    .optional()
    .describe('Only updates created after this time'),
  sessionId: z.string().min(1).max(200, 'sessionId must be at most 200 characters').optional().describe('Only this session'),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'cursor must be a value returned by this endpoint')
    .optional()
    .describe('The cursor of the previous response: continue without gaps or repeats'),
  wait: z.coerce
    .number({ error: 'wait must be a number of seconds' })
    .min(0, `wait must be 0-${MAX_WAIT_S} seconds`)
    .max(MAX_WAIT_S, `wait must be 0-${MAX_WAIT_S} seconds`)
    .optional()
    .describe(`Long-poll: hold the request up to this many seconds (≤ ${MAX_WAIT_S}) until an update arrives`),
  limit: intParam('limit', 1, 100).default(100).describe('Updates per response, 1-100'),
});

const UpdateSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    characterId: z.string(),
    kind: z.enum(['reply', 'proactive', 'error']),
    message: MessageSchema.optional().describe('For reply and proactive'),
    error: z.object({ code: z.string(), message: z.string() }).optional().describe('For error: why an async turn failed'),
  })
  .describe('Update');

function view(u: Update): z.output<typeof UpdateSchema> {
  return {
    id: String(u.id),
    sessionId: u.conversationId,
    characterId: u.characterId,
    kind: u.kind,
    ...(u.message ? { message: u.message } : {}),
    ...(u.error ? { error: u.error } : {}),
  };
}

/**
 * The polling endpoint: what the key did not get in a response (async replies, async failures,
 * proactive messages), in order. `wait` long-polls until an entry arrives.
 */
export function updateRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { updates } = ctx;
  return async (app) => {
    app.get(
      '/updates',
      {
        schema: {
          tags: ['chat'],
          summary: 'Poll (or long-poll) for async replies, failures and proactive messages',
          security,
          querystring: Query,
          response: { 200: z.object({ updates: z.array(UpdateSchema), cursor: z.string() }), ...errorResponses },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const gone = new AbortController();
        const onClose = () => gone.abort();
        reply.raw.once('close', onClose);
        let page: Awaited<ReturnType<typeof updates.read>>;
        try {
          page = await updates.read(
            callerOf(req),
            {
              sessionId: q.sessionId,
              afterId: q.cursor === undefined ? undefined : Number(q.cursor),
              since: q.since === undefined ? undefined : new Date(q.since).toISOString(),
              limit: q.limit,
              waitMs: (q.wait ?? 0) * 1000,
            },
            gone.signal,
          );
        } finally {
          reply.raw.off('close', onClose);
        }
        return { updates: page.updates.map(view), cursor: String(page.cursor) };
      },
    );
  };
}
