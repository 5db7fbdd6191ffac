import { z } from 'zod';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { CharbridgeError } from '../../core/errors.js';
import type { StoredMessage } from '../../core/types.js';
import type { Caller } from '../../services/access.js';
import type { ChatOutcome, ChatReply, ChatService, ChatTurn } from '../../services/chat.js';
import { apiKeyHook } from '../auth.js';
import type { HttpContext } from '../context.js';
import { toErrorResponse } from '../errors.js';
import { SseWriter } from '../sse.js';

/**
 * What the chat API dialects share: one auth hook and one error mapper per dialect scope, and
 * one way to pipe a turn into an event stream. Each dialect only decides its envelope; the chat
 * logic stays in the services.
 */

/** An error as every dialect renders it: the status and code toErrorResponse chose. */
export interface DialectError {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown> | undefined;
}

/**
 * Make `app` (an encapsulated plugin with its own prefix) one dialect: the same API keys as v1
 * (`x-api-key` or `Authorization: Bearer`), and every error — 401 from the hook, 400 from a
 * schema, 404 for an unknown path under the prefix, 429/502/503 from the service — rendered by
 * `render` in the dialect's own envelope, with the status and Retry-After v1 would send.
 */
export function dialectScope(app: FastifyInstance, ctx: HttpContext, render: (e: DialectError) => unknown): void {
  app.addHook('onRequest', apiKeyHook(ctx.access));
  app.setErrorHandler((err, _req, reply) => {
    const { status, body, headers } = toErrorResponse(err, ctx.log);
    void reply.status(status).headers(headers).send(render({ status, ...body.error }));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? req.url;
    void reply.status(404).send(render({ status: 404, code: 'NOT_FOUND', message: `No route ${req.method} ${path}` }));
  });
}

/** How one dialect spells the events of a streamed turn; each returns the `data:` payloads to send. */
export interface StreamFormat {
  start?(turn: ChatTurn): unknown[];
  delta(text: string): unknown[];
  done(reply: ChatReply): unknown[];
  error(err: CharbridgeError): unknown[];
}

/**
 * Stream a started turn as Server-Sent Events in `format`. As in v1, a client that leaves early
 * stops only the writes: the model runs to the end, the reply is stored and charged, and it is
 * put on the key's updates feed because the stream could not deliver it.
 */
export async function streamTurn(
  reply: FastifyReply,
  chat: ChatService,
  caller: Caller,
  turn: ChatTurn,
  format: StreamFormat,
  headers: Record<string, string> = {},
): Promise<void> {
  const sse = new SseWriter(reply, headers);
  const sendAll = (events: unknown[]) => events.map((e) => sse.send(e)).every(Boolean);
  try {
    if (format.start) sendAll(format.start(turn));
    for await (const e of turn.events) if (e.type === 'delta') sendAll(format.delta(e.text));
    const outcome: ChatOutcome = await turn.outcome;
    const delivered = sendAll(outcome.ok ? format.done(outcome.reply) : format.error(outcome.error));
    if (!delivered) await chat.publish(caller, turn, outcome);
  } finally {
    sse.end();
  }
}

/** Proactive messages are the character speaking, so they read as `assistant`. */
export const roleOf = (m: StoredMessage): 'user' | 'assistant' => (m.role === 'user' ? 'user' : 'assistant');

/**
 * The message text every dialect requires: a string of 1–20000 characters after trimming.
 * `label` is how the dialect names it in errors ("message", or the agent chat API's "Message field").
 */
export function messageText(label = 'message') {
  return z
    .string({ error: (issue) => (issue.input === undefined || issue.input === null ? `${label} is required` : `${label} must be a string`) })
    .trim()
    .min(1, `${label} is required`)
    .max(20_000, `${label} must be at most 20000 characters`);
}

/** An optional id naming a conversation to continue; null or absent starts a new one. */
export const conversationIdField = z
  .string({ error: 'conversationId must be a string' })
  .max(200, 'conversationId must be at most 200 characters')
  .nullish();

/** `{"success":false,"error":{code,message}}`: the error body the bot chat and user/group chat APIs share. */
export function successErrorBody(name: string) {
  return z
    .object({
      success: z.literal(false),
      error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
    })
    .describe(name);
}
