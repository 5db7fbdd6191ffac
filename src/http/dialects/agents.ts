import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { CharbridgeError, NotFoundError } from '../../core/errors.js';
import type { Character } from '../../core/types.js';
import type { Caller } from '../../services/access.js';
import { callerOf } from '../auth.js';
import { security } from '../schemas.js';
import type { HttpContext } from '../context.js';
import { conversationIdField, dialectScope, messageText, streamTurn, type DialectError, type StreamFormat } from './common.js';

/**
 * The agent chat API: `POST /v1/api/chat/{slug}` with a `stream` flag and a `{"data","error"}`
 * envelope. An agent is a character named by slug (or id).
 */

const tags = ['Agent chat API'];

/** This API's error names; a client switching on `name` always lands on one of these five. */
type ErrorName = 'ValidationError' | 'UnauthorizedError' | 'NotFoundError' | 'RateLimitError' | 'ServerError';

/**
 * Status → name: 401/403 Unauthorized, 404 NotFound, 429 and 402 (credits exhausted: a quota,
 * retried later like a rate limit) RateLimit, any other 4xx Validation, 5xx Server. Our own
 * `code` rides along in `details.code` for clients that want the precise reason.
 */
function errorName(status: number): ErrorName {
  if (status === 401 || status === 403) return 'UnauthorizedError';
  if (status === 404) return 'NotFoundError';
  if (status === 429 || status === 402) return 'RateLimitError';
  if (status >= 500) return 'ServerError';
  return 'ValidationError';
}

const render = (e: DialectError) => ({
  data: null,
  error: { name: errorName(e.status), message: e.message, details: { code: e.code, ...e.details } },
});

const ErrorBody = z
  .object({
    data: z.null(),
    error: z.object({
      name: z.enum(['ValidationError', 'UnauthorizedError', 'NotFoundError', 'RateLimitError', 'ServerError']),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).describe('Our error code as `code`, plus e.g. `field` for validation errors'),
    }),
  })
  .describe('AgentChatError');

const Params = z.object({ slug: z.string().min(1, 'slug is required').max(200, 'slug must be at most 200 characters').describe('The agent slug (or character id)') });

const Body = z.object({
  message: messageText('Message field').describe('The message to send to the AI agent'),
  stream: z.boolean({ error: 'stream must be true or false' }).nullish().describe('Stream the response as Server-Sent Events (default false)'),
  conversationId: conversationIdField.describe('Continue an existing conversation; null or absent starts a new one'),
});

const Success = z.object({
  data: z.object({
    response: z.string(),
    conversationId: z.string(),
    metadata: z.object({ model: z.string().describe("The character's model, or the configured one"), tokens: z.number().int().describe('Total tokens of the turn') }),
  }),
  error: z.null(),
});

const StreamEvent = z
  .union([
    z.object({ chunk: z.string() }),
    z.literal('[DONE]'),
    z.object({ error: z.object({ name: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) }) }),
  ])
  .describe('One `data:` line: {"chunk"} per delta, then [DONE]; {"error"} before [DONE] if the model failed');

const format: StreamFormat = {
  delta: (text) => [{ chunk: text }],
  done: () => ['[DONE]'],
  error: (err: CharbridgeError) => [{ error: render({ status: err.status, code: err.code, message: err.message }).error }, '[DONE]'],
};

/** `POST /v1/api/chat/{slug}`; register with prefix `/v1/api/chat`. */
export function agentRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { chat, characters } = ctx;

  /** The agent, or this API's own 404 message. */
  async function agentOf(caller: Caller, slug: string): Promise<Character> {
    try {
      return await characters.get(caller, slug);
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`Agent with slug '${slug}'`, 'AGENT_NOT_FOUND');
      throw err;
    }
  }

  return async (app) => {
    dialectScope(app, ctx, render);

    app.post(
      '/:slug',
      {
        schema: {
          tags,
          summary: 'Send a chat message to an AI agent',
          description:
            'stream false (default) answers {"data":{"response","conversationId","metadata":{"model","tokens"}},"error":null}. stream true answers with Server-Sent Events: `data: {"chunk":"…"}` per text delta, then `data: [DONE]`; if the model fails, `data: {"error":{name,message,details}}` comes before [DONE]. Both carry the conversation id in the X-Conversation-Id header.',
          security,
          params: Params,
          body: Body,
          response: {
            200: {
              description: 'The reply, or an event stream (stream: true)',
              content: { 'application/json': { schema: Success }, 'text/event-stream': { schema: StreamEvent } },
            },
            400: ErrorBody.describe('ValidationError'),
            401: ErrorBody.describe('UnauthorizedError: invalid or missing API key'),
            402: ErrorBody.describe('RateLimitError with details.code INSUFFICIENT_CREDITS'),
            404: ErrorBody.describe("NotFoundError: Agent with slug '…' not found, or an unknown conversationId"),
            409: ErrorBody.describe('ValidationError: the conversation belongs to another agent'),
            429: ErrorBody.describe('RateLimitError; see Retry-After'),
            500: ErrorBody.describe('ServerError'),
            502: ErrorBody.describe('ServerError: the model server answered with an error (details.code MODEL_ERROR)'),
            503: ErrorBody.describe('ServerError: no model backend reachable (details.code MODEL_UNAVAILABLE)'),
          },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req);
        const agent = await agentOf(caller, req.params.slug);
        const turn = await chat.start(caller, { characterRef: agent.id, text: req.body.message, sessionId: req.body.conversationId });
        const headers = { 'x-conversation-id': turn.sessionId };
        if (req.body.stream) {
          await streamTurn(reply, chat, caller, turn, format, headers);
          return reply;
        }
        // Set before waiting, so a 502/503 still tells the client which conversation to retry in.
        void reply.headers(headers);
        const outcome = await turn.outcome;
        if (!outcome.ok) throw outcome.error;
        const r = outcome.reply;
        return { data: { response: r.message.content, conversationId: r.sessionId, metadata: { model: r.model, tokens: r.usage.totalTokens } }, error: null };
      },
    );
  };
}
