import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Character } from '../../core/types.js';
import type { Caller } from '../../services/access.js';
import type { ChatReply } from '../../services/chat.js';
import { metadataOf } from '../../services/conversations.js';
import { callerOf } from '../auth.js';
import { IdParams, intParam, security, PersonaSchema } from '../schemas.js';
import type { HttpContext } from '../context.js';
import { dialectScope, messageText, roleOf, streamTurn, type DialectError, type StreamFormat, successErrorBody } from './common.js';

export { apiGroupChatKey } from '../../services/conversations.js';

/**
 * The user/group chat API of QQ-bot plugins: `/api/chat` and `/api/conversations…`. The caller's
 * own `userId` and `groupId` address conversations the way platform users and groups do, and
 * `preset` names the character. Errors are `{"success":false,"error":{code,message}}` with the
 * API's own codes.
 */

const tags = ['User and group chat API'];

/** Our codes in this API's vocabulary: a character is a "preset", an unreachable model a "channel". */
const CODES: Record<string, string> = { CHARACTER_NOT_FOUND: 'PRESET_NOT_FOUND', MODEL_UNAVAILABLE: 'CHANNEL_UNAVAILABLE' };

const render = (e: DialectError) => ({
  success: false as const,
  error: {
    code: CODES[e.code] ?? e.code,
    message: e.code === 'CHARACTER_NOT_FOUND' ? 'Preset not found' : e.message,
    ...(e.details ? { details: e.details } : {}),
  },
});

const ErrorBody = successErrorBody('QqBotError');
const errors = {
  400: ErrorBody.describe('VALIDATION_ERROR'),
  401: ErrorBody.describe('UNAUTHORIZED'),
  404: ErrorBody.describe('CONVERSATION_NOT_FOUND (or PRESET_NOT_FOUND)'),
  429: ErrorBody.describe('RATE_LIMITED; see Retry-After'),
} as const;
const chatErrors = {
  ...errors,
  402: ErrorBody.describe('INSUFFICIENT_CREDITS'),
  502: ErrorBody.describe('MODEL_ERROR: the model server answered with an error on every attempt'),
  503: ErrorBody.describe('CHANNEL_UNAVAILABLE: no model backend could be reached (refused, DNS, timeout, open circuit)'),
} as const;

/** A QQ id: a string, or a whole number (numeric ids sent unquoted) taken as its decimal string; trimmed. */
function idField(field: string) {
  return z
    .union([z.string(), z.number().int()], { error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`) })
    .transform((v) => String(v).trim())
    .pipe(z.string().max(200, `${field} must be at most 200 characters`));
}

const ChatBody = z.object({
  message: messageText(),
  userId: idField('userId')
    .refine((v) => v.length > 0, 'userId must not be empty')
    .describe("Your user's id: one conversation per user, like a platform DM"),
  // "" or null is "no group", as plugins that default the field to an empty string mean it.
  groupId: idField('groupId')
    .nullish()
    .transform((v) => v || undefined)
    .describe("Your group's id: one shared conversation per group, or one per user when the group's scope is per-user"),
  preset: z
    .string({ error: 'preset must be a string' })
    .trim()
    .max(200, 'preset must be at most 200 characters')
    .nullish()
    .describe('Character id or slug; "default" or absent is the key\'s default character. A different preset switches the conversation\'s character'),
  persona: PersonaSchema.optional(),
});

const Usage = z.object({ promptTokens: z.number().int(), completionTokens: z.number().int(), totalTokens: z.number().int() });
const ChatResponse = z.object({ success: z.literal(true), data: z.object({ response: z.string(), conversationId: z.string(), usage: Usage }) });
const StreamEvent = z
  .union([
    z.object({ type: z.literal('start'), conversationId: z.string() }),
    z.object({ type: z.literal('content'), text: z.string() }),
    z.object({ type: z.literal('end'), usage: Usage }),
    z.object({ type: z.literal('error'), error: z.object({ code: z.string(), message: z.string() }) }),
  ])
  .describe('One `data:` line of the event stream');

const ListQuery = z.object({
  userId: z.string().max(200).optional().describe('Filter by user'),
  groupId: z.string().max(200).optional().describe('Filter by group'),
  limit: intParam('limit', 1, 100).default(20).describe('Max results, 1-100'),
  offset: intParam('offset', 0, Number.MAX_SAFE_INTEGER).default(0).describe('Results to skip'),
});
const ListResponse = z.object({
  success: z.literal(true),
  data: z.object({
    conversations: z.array(
      z.object({
        id: z.string(),
        userId: z.string().nullable().describe('null for a group conversation shared by its members'),
        groupId: z.string().nullable(),
        messageCount: z.number().int(),
        lastMessage: z.string().nullable(),
        updatedAt: z.number().int().describe('Epoch milliseconds'),
      }),
    ),
    total: z.number().int(),
  }),
});
const ConversationResponse = z.object({
  success: z.literal(true),
  data: z.object({
    id: z.string(),
    messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: z.string(), timestamp: z.number().int().describe('Epoch milliseconds') })),
  }),
});

const usageOf = (r: ChatReply) => ({ promptTokens: r.usage.promptTokens, completionTokens: r.usage.completionTokens, totalTokens: r.usage.totalTokens });
const format: StreamFormat = {
  start: (turn) => [{ type: 'start', conversationId: turn.sessionId }],
  delta: (text) => [{ type: 'content', text }],
  done: (r) => [{ type: 'end', usage: usageOf(r) }],
  error: (err) => [{ type: 'error', error: render({ status: err.status, code: err.code, message: err.message }).error }],
};

/** POST /api/chat and /api/chat/stream; register with prefix `/api/chat`. */
export function qqChatRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { chat, characters, conversations } = ctx;

  /** `preset` → character: "default"/absent is the key's default character, else the server's. */
  function presetOf(caller: Caller, preset: string | null | undefined): Promise<Character> {
    if (preset && preset.toLowerCase() !== 'default') return characters.get(caller, preset);
    return characters.defaultFor(caller);
  }

  /**
   * userId/groupId → conversation (owned by the key, so v1 and the other APIs see it as the key's
   * conversation), created only once the turn is admitted. Another preset than last time: the
   * conversation (and its history) continues with it — also only once admitted, so a refused
   * request (429, 402) changes nothing.
   */
  async function start(caller: Caller, body: z.output<typeof ChatBody>) {
    const character = await presetOf(caller, body.preset);
    const where = await conversations.forIdentity(caller, { userId: body.userId, groupId: body.groupId });
    const turn = await chat.start(caller, {
      characterRef: character.id,
      text: body.message,
      ...(where.existing ? { conversation: where.existing } : { newConversation: where.spec }),
      author: { id: body.userId, name: body.persona?.name ?? body.userId },
      ...(body.persona ? { persona: body.persona } : {}),
    });
    await conversations.switchCharacter(turn.conversation, character.id);
    return turn;
  }

  return async (app) => {
    dialectScope(app, ctx, render);

    app.post(
      '',
      { schema: { tags, summary: 'Send a message and get the AI response', security, body: ChatBody, response: { 200: ChatResponse, ...chatErrors } } },
      async (req) => {
        const turn = await start(callerOf(req), req.body);
        const outcome = await turn.outcome;
        if (!outcome.ok) throw outcome.error;
        return { success: true as const, data: { response: outcome.reply.message.content, conversationId: outcome.reply.sessionId, usage: usageOf(outcome.reply) } };
      },
    );

    app.post(
      '/stream',
      {
        schema: {
          tags,
          summary: 'Send a message with a streaming response (Server-Sent Events)',
          description:
            'Request as /api/chat. One JSON object per `data:` line: `{"type":"start","conversationId"}`, `{"type":"content","text"}` per delta, then `{"type":"end","usage":{promptTokens,completionTokens,totalTokens}}`, or `{"type":"error","error":{"code","message"}}` instead of end. Errors before the stream starts are JSON.',
          security,
          body: ChatBody,
          response: { 200: { description: 'An event stream', content: { 'text/event-stream': { schema: StreamEvent } } }, ...chatErrors },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req);
        const turn = await start(caller, req.body);
        await streamTurn(reply, chat, caller, turn, format, { 'x-conversation-id': turn.sessionId });
        return reply;
      },
    );
  };
}

/** The conversation endpoints; register with prefix `/api/conversations`. */
export function qqConversationRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { conversations } = ctx;
  return async (app) => {
    dialectScope(app, ctx, render);

    app.get(
      '',
      {
        schema: {
          tags,
          summary: "The key's conversations, most recently active first",
          description: 'Every API conversation of the key (whichever API made it); userId/groupId are null for those made elsewhere.',
          security,
          querystring: ListQuery,
          response: { 200: ListResponse, ...errors },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const { userId, groupId, limit, offset } = req.query;
        const { conversations: found, total } = await conversations.list(caller, { platform: 'api', identity: { userId, groupId }, page: 1, limit, offset });
        return {
          success: true as const,
          data: {
            conversations: found.map((c) => {
              const meta = metadataOf(c);
              return { id: c.id, userId: meta.userId ?? null, groupId: meta.groupId ?? null, messageCount: c.messageCount, lastMessage: c.preview, updatedAt: Date.parse(c.updatedAt) };
            }),
            total,
          },
        };
      },
    );

    app.get(
      '/:id',
      {
        schema: { tags, summary: 'A conversation with its messages (the newest 1000, oldest first)', security, params: IdParams, response: { 200: ConversationResponse, ...errors } },
      },
      async (req) => {
        const conv = await conversations.get(callerOf(req), req.params.id);
        const messages = await conversations.history(conv);
        return { success: true as const, data: { id: conv.id, messages: messages.map((m) => ({ role: roleOf(m), content: m.content, timestamp: Date.parse(m.createdAt) })) } };
      },
    );

    app.delete(
      '/:id',
      { schema: { tags, summary: 'Delete a conversation', security, params: IdParams, response: { 200: z.object({ success: z.literal(true) }), ...errors } } },
      async (req) => {
        await conversations.delete(await conversations.get(callerOf(req), req.params.id));
        return { success: true as const };
      },
    );

    app.post(
      '/:id/clear',
      {
        schema: {
          tags,
          summary: 'Clear the conversation context (history stays readable)',
          security,
          params: IdParams,
          response: { 200: z.object({ success: z.literal(true), message: z.literal('Context cleared') }), ...errors },
        },
      },
      async (req) => {
        await conversations.clear(await conversations.get(callerOf(req), req.params.id));
        return { success: true as const, message: 'Context cleared' as const };
      },
    );
  };
}
