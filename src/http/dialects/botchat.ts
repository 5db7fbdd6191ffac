import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Character } from '../../core/types.js';
import { CharbridgeError, NotFoundError } from '../../core/errors.js';
import type { Caller } from '../../services/access.js';
import type { ChatRequest, ChatTurn } from '../../services/chat.js';
import { metadataOf } from '../../services/conversations.js';
import { callerOf } from '../auth.js';
import { intParam, security } from '../schemas.js';
import type { HttpContext } from '../context.js';
import {
  conversationIdField,
  dialectScope,
  messageText,
  roleOf,
  streamTurn,
  type DialectError,
  successErrorBody,
  type StreamFormat,
} from './common.js';

/**
 * The bot chat API, under `/api/v1/chat/{botId}/…`: a bot is a character named by id or slug.
 * Envelope `{"success":true,"data":…}`, errors `{"success":false,"error":{code,message}}`.
 */

const PREVIEW_CHARS = 120;
const tags = ['Bot chat API'];

const ErrorBody = successErrorBody('BotChatError');
const errors = {
  400: ErrorBody.describe('Invalid request body or query'),
  401: ErrorBody.describe('Invalid or missing API key'),
  404: ErrorBody.describe('Bot or conversation not found (BOT_NOT_FOUND, CONVERSATION_NOT_FOUND)'),
  429: ErrorBody.describe('Rate limit exceeded; see Retry-After'),
  500: ErrorBody.describe('Server error'),
} as const;
const chatErrors = {
  ...errors,
  402: ErrorBody.describe('INSUFFICIENT_CREDITS: no credits left on this key'),
  409: ErrorBody.describe('SESSION_CHARACTER_MISMATCH: the conversation belongs to another bot'),
  502: ErrorBody.describe('MODEL_ERROR: the model server answered with an error; nothing charged'),
  503: ErrorBody.describe('MODEL_UNAVAILABLE: no model backend reachable; nothing charged'),
} as const;

/** This API's envelope; "character" is "bot" in its vocabulary. */
const render = (e: DialectError) => ({
  success: false as const,
  error:
    e.code === 'CHARACTER_NOT_FOUND'
      ? { code: 'BOT_NOT_FOUND', message: 'Bot not found' }
      : { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) },
});

const BotParams = z.object({ botId: z.string().min(1, 'botId is required').max(200, 'botId must be at most 200 characters').describe('Character id or slug') });
const ConversationParams = BotParams.extend({ id: z.string().min(1).max(200).describe('conversationId') });

const MessageBody = z.object({
  message: messageText().describe("The user's message"),
  conversationId: conversationIdField.describe('Continue this conversation; omit (or null) to start a new one'),
  metadata: z
    .record(z.string(), z.unknown(), { error: 'metadata must be an object' })
    .nullish()
    .describe('Custom data stored with the conversation (merged into what it has) and returned with it; at most 16 KB as JSON and 8 levels deep, also once merged'),
});

const MessageResponse = z.object({
  success: z.literal(true),
  data: z.object({ response: z.string(), conversationId: z.string(), messageId: z.string().describe('Id of the reply message') }),
});

const StreamEvent = z
  .union([
    z.object({ type: z.literal('delta'), content: z.string() }),
    z.object({ type: z.literal('done'), conversationId: z.string(), messageId: z.string() }),
    z.object({ type: z.literal('error'), error: z.object({ code: z.string(), message: z.string() }) }),
  ])
  .describe('One `data:` line of the event stream');

const HistoryResponse = z.object({
  success: z.literal(true),
  data: z.object({
    conversationId: z.string(),
    messages: z.array(z.object({ id: z.string(), role: z.enum(['user', 'assistant']), content: z.string(), timestamp: z.string().describe('ISO 8601') })),
    metadata: z
      .object({ createdAt: z.string(), messageCount: z.number().int() })
      .catchall(z.unknown())
      .describe('createdAt and messageCount, plus the custom metadata sent with the messages'),
  }),
});

const ListQuery = z.object({
  page: intParam('page', 1, Number.MAX_SAFE_INTEGER).default(1).describe('Page number, from 1'),
  limit: intParam('limit', 1, 100).default(20).describe('Items per page (max 100)'),
  since: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), 'since must be an ISO date')
    .optional()
    .describe('Only conversations active (updated) after this ISO date'),
});

const ListResponse = z.object({
  success: z.literal(true),
  data: z.object({
    conversations: z.array(
      z.object({
        id: z.string(),
        preview: z.string().nullable().describe('The newest message, shortened'),
        messageCount: z.number().int(),
        createdAt: z.string(),
        updatedAt: z.string(),
        metadata: z.record(z.string(), z.unknown()).optional().describe('The custom metadata, when some was sent'),
      }),
    ),
    pagination: z.object({ page: z.number().int(), limit: z.number().int(), total: z.number().int(), hasMore: z.boolean() }),
  }),
});

const format: StreamFormat = {
  delta: (text) => [{ type: 'delta', content: text }],
  done: (r) => [{ type: 'done', conversationId: r.sessionId, messageId: r.message.id }],
  error: (err: CharbridgeError) => [{ type: 'error', error: render({ status: err.status, code: err.code, message: err.message }).error }],
};

const shorten = (s: string | null) => (s === null ? null : s.length > PREVIEW_CHARS ? `${s.slice(0, PREVIEW_CHARS - 1)}…` : s);

/** The bot chat API's four endpoints; register with prefix `/api/v1/chat/:botId`. */
export function botChatRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { chat, characters, conversations } = ctx;

  /** The bot, or a 404 BOT_NOT_FOUND (another tenant's private character is a 404 too). */
  const botOf = (caller: Caller, botId: string): Promise<Character> => characters.get(caller, botId);

  /** Start a turn, then merge `metadata` into the conversation's (new or continued) client metadata. */
  async function begin(caller: Caller, bot: Character, body: z.output<typeof MessageBody>): Promise<ChatTurn> {
    const req: ChatRequest = { characterRef: bot.id, text: body.message, sessionId: body.conversationId };
    // Bounded before the model runs, so an oversized merge is a 400 that cost nothing.
    if (body.metadata) await conversations.checkClientMetadata(caller, body.conversationId, body.metadata);
    const turn = await chat.start(caller, req);
    if (body.metadata) await conversations.mergeClientMetadata(turn.conversation, body.metadata);
    return turn;
  }

  return async (app) => {
    dialectScope(app, ctx, render);

    app.post(
      '/message',
      {
        schema: {
          tags,
          summary: 'Send a message to a bot and receive its response',
          security,
          params: BotParams,
          body: MessageBody,
          response: { 200: MessageResponse, ...chatErrors },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const turn = await begin(caller, await botOf(caller, req.params.botId), req.body);
        const outcome = await turn.outcome;
        if (!outcome.ok) throw outcome.error;
        const r = outcome.reply;
        return { success: true as const, data: { response: r.message.content, conversationId: r.sessionId, messageId: r.message.id } };
      },
    );

    app.post(
      '/stream',
      {
        schema: {
          tags,
          summary: 'Send a message and stream the response (Server-Sent Events)',
          description:
            'One JSON object per `data:` line: `{"type":"delta","content":"…"}` per text delta as the model produces it, then `{"type":"done","conversationId","messageId"}`, or `{"type":"error","error":{"code","message"}}` instead of done. The X-Conversation-Id header carries the conversation id from the start. Errors before the stream starts (400/401/404/429) are JSON.',
          security,
          params: BotParams,
          body: MessageBody,
          response: {
            200: { description: 'An event stream', content: { 'text/event-stream': { schema: StreamEvent } } },
            ...chatErrors,
          },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req);
        const turn = await begin(caller, await botOf(caller, req.params.botId), req.body);
        await streamTurn(reply, chat, caller, turn, format, { 'x-conversation-id': turn.sessionId });
        return reply;
      },
    );

    app.get(
      '/conversations/:id',
      {
        schema: {
          tags,
          summary: 'Conversation history, oldest first',
          description: 'The newest 1000 messages; metadata.messageCount counts them all.',
          security,
          params: ConversationParams,
          response: { 200: HistoryResponse, ...errors },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const bot = await botOf(caller, req.params.botId);
        const conv = await conversations.get(caller, req.params.id);
        // Under another bot's URL the conversation does not exist, as the paths imply.
        if (conv.characterId !== bot.id) throw new NotFoundError('Conversation', 'CONVERSATION_NOT_FOUND');
        const messages = await conversations.history(conv);
        return {
          success: true as const,
          data: {
            conversationId: conv.id,
            messages: messages.map((m) => ({ id: m.id, role: roleOf(m), content: m.content, timestamp: m.createdAt })),
            metadata: { ...metadataOf(conv).clientMetadata, createdAt: conv.createdAt, messageCount: conv.messageCount },
          },
        };
      },
    );

    app.get(
      '/conversations',
      {
        schema: {
          tags,
          summary: "The key's conversations with this bot, most recently active first",
          security,
          params: BotParams,
          querystring: ListQuery,
          response: { 200: ListResponse, ...errors },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const bot = await botOf(caller, req.params.botId);
        const { page, limit, since } = req.query;
        const { conversations: found, total } = await conversations.list(caller, {
          platform: 'api',
          characterId: bot.id,
          updatedAfter: since === undefined ? undefined : new Date(since).toISOString(),
          page,
          limit,
        });
        return {
          success: true as const,
          data: {
            conversations: found.map((c) => {
              const custom = metadataOf(c).clientMetadata;
              return { id: c.id, preview: shorten(c.preview), messageCount: c.messageCount, createdAt: c.createdAt, updatedAt: c.updatedAt, ...(custom ? { metadata: custom } : {}) };
            }),
            pagination: { page, limit, total, hasMore: page * limit < total },
          },
        };
      },
    );
  };
}
