import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ForbiddenError } from '../../core/errors.js';
import { PLATFORMS, type Platform } from '../../core/types.js';
import { callerOf } from '../auth.js';
import { DeletedSchema, errorResponses, ErrorSchema, IdParams, intParam, pageQuery, pagination, PaginationSchema, security } from '../schemas.js';
import type { HttpContext } from '../context.js';

const PREVIEW_CHARS = 120;

const HistoryQuery = z.object({
  limit: intParam('limit', 1, 100).default(20).describe('Messages per page, 1-100'),
  before: z.string().min(1, 'before must be a message id').max(200, 'before must be a message id').optional().describe('Page backwards from this message id'),
  debug: z.enum(['lorebook'], { error: 'debug must be lorebook' }).optional().describe('lorebook: add which lorebook entries fired on the last turn'),
});

const HistoryResponse = z
  .object({
    sessionId: z.string(),
    characterId: z.string().nullable(),
    messages: z.array(
      z.object({
        id: z.string(),
        role: z.enum(['user', 'assistant']),
        content: z.string(),
        timestamp: z.string(),
        imageCount: z.number().int().optional().describe('How many images the message carried (the pictures themselves are not returned)'),
      }),
    ),
    hasMore: z.boolean().describe('Older messages exist; pass the first message id as `before`'),
    lorebook: z
      .object({
        at: z.string(),
        lines: z.array(z.string()).describe('One line per matched entry: what fired and why, or why it was dropped'),
        fired: z.array(z.object({ book: z.string().nullable(), id: z.union([z.number(), z.string()]), label: z.string(), tokens: z.number() })),
        tokensUsed: z.number(),
        budgetExhausted: z.boolean(),
        warnings: z.array(z.string()),
      })
      .nullable()
      .optional()
      .describe('With ?debug=lorebook: the last turn’s lorebook activation (null before any)'),
  })
  .describe('ConversationHistory');

const isoTime = (field: string) =>
  z
    .string()
    .max(40, `${field} must be an ISO 8601 time`)
    .refine((v) => /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v)), `${field} must be an ISO 8601 time`);
const iso = (v: string | undefined) => (v === undefined ? undefined : new Date(v).toISOString());

const ListQuery = z.object({
  ...pageQuery,
  platform: z
    .enum(PLATFORMS as [Platform, ...Platform[]], { error: `platform must be one of ${PLATFORMS.join(', ')}` })
    .optional()
    .describe('Admin only: filter by platform (api, telegram, discord, slack)'),
  characterId: z.string().max(200).optional().describe('Only conversations with this character'),
  since: isoTime('since').optional().describe('Only conversations active after this ISO time'),
  until: isoTime('until').optional().describe('Only conversations last active before this ISO time'),
});

const Summary = z.object({
  sessionId: z.string(),
  characterId: z.string().nullable(),
  platform: z.enum(PLATFORMS as [Platform, ...Platform[]]),
  chatType: z.enum(['dm', 'group', 'thread']),
  preview: z.string().nullable().describe('The newest message, shortened'),
  messageCount: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const shorten = (s: string | null) => (s === null ? null : s.length > PREVIEW_CHARS ? `${s.slice(0, PREVIEW_CHARS - 1)}…` : s);

/**
 * The TuringMate conversation history, plus list, delete and clear. Tenants see their own API sessions; the admin
 * sees every conversation, platform ones included.
 */
export function conversationRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { conversations } = ctx;
  return async (app) => {
    app.get(
      '/conversations',
      {
        schema: {
          tags: ['conversations'],
          summary: 'List conversations, most recently active first',
          security,
          querystring: ListQuery,
          response: { 200: z.object({ conversations: z.array(Summary), pagination: PaginationSchema }), ...errorResponses, 403: ErrorSchema },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const q = req.query;
        if (!caller.isAdmin && q.platform !== undefined && q.platform !== 'api') {
          throw new ForbiddenError('Only the admin key can list platform conversations');
        }
        const page = await conversations.list(caller, {
          platform: q.platform,
          characterId: q.characterId,
          updatedAfter: iso(q.since),
          updatedBefore: iso(q.until),
          page: q.page,
          limit: q.limit,
        });
        return {
          conversations: page.conversations.map((c) => ({ ...c, sessionId: c.id, preview: shorten(c.preview) })),
          pagination: pagination(q.page, q.limit, page.total),
        };
      },
    );

    app.get(
      '/conversations/:id',
      {
        schema: {
          tags: ['conversations'],
          summary: 'Conversation history, oldest first within the page',
          security,
          params: IdParams,
          querystring: HistoryQuery,
          response: { 200: HistoryResponse, ...errorResponses },
        },
      },
      async (req) => {
        const conv = await conversations.get(callerOf(req), req.params.id);
        const page = await conversations.page(conv, req.query);
        return {
          sessionId: conv.id,
          characterId: conv.characterId,
          messages: page.messages.map((m) => ({
            id: m.id,
            role: m.role === 'user' ? ('user' as const) : ('assistant' as const),
            content: m.content,
            timestamp: m.createdAt,
            ...(m.imageCount ? { imageCount: m.imageCount } : {}),
          })),
          hasMore: page.hasMore,
          ...(req.query.debug === 'lorebook' ? { lorebook: await ctx.lorebooks.report(callerOf(req), conv.id) } : {}),
        };
      },
    );

    app.delete(
      '/conversations/:id',
      {
        schema: {
          tags: ['conversations'],
          summary: 'Delete a conversation and its messages for good',
          security,
          params: IdParams,
          response: { 200: DeletedSchema, ...errorResponses },
        },
      },
      async (req) => {
        const conv = await conversations.get(callerOf(req), req.params.id);
        await conversations.delete(conv);
        return { id: conv.id, deleted: true as const };
      },
    );

    app.post(
      '/conversations/:id/clear',
      {
        schema: {
          tags: ['conversations'],
          summary: 'Clear the context: the model no longer sees earlier turns (history stays readable)',
          security,
          params: IdParams,
          response: { 200: z.object({ sessionId: z.string(), cleared: z.literal(true) }), ...errorResponses },
        },
      },
      async (req) => {
        const conv = await conversations.get(callerOf(req), req.params.id);
        await conversations.clear(conv);
        return { sessionId: conv.id, cleared: true as const };
      },
    );
  };
}
