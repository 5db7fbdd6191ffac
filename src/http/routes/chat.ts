import { z } from 'zod';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Caller } from '../../services/access.js';
import type { ChatOutcome, ChatReply, ChatRequest, ChatTurn } from '../../services/chat.js';
import { requestHash, type IdempotencyClaim } from '../../services/idempotency.js';
import { callerOf } from '../auth.js';
import { CreditsSchema, errorResponses, ErrorSchema, MessageSchema, security, str, PersonaSchema } from '../schemas.js';
import { SseWriter, wantsEventStream } from '../sse.js';
import type { HttpContext } from '../context.js';

const ChatBody = z
  .object({
    characterId: str('characterId')
      .trim()
      .min(1, 'characterId is required')
      .max(200, 'characterId must be at most 200 characters')
      .describe('Character id (or slug) to chat with'),
    message: z.string({ error: 'message must be a string' }).max(20_000, 'message must be at most 20000 characters').nullish().describe('Text message (message or imageUrl required)'),
    imageUrl: z
      .string({ error: 'imageUrl must be a string' })
      .max(2048, 'imageUrl must be at most 2048 characters')
      .nullish()
      .describe('Public http(s) URL of a PNG, JPEG, GIF or WebP image (at most MAX_IMAGE_BYTES), fetched by the server; costs 2 credits'),
    sessionId: z.string({ error: 'sessionId must be a string' }).max(200, 'sessionId must be at most 200 characters').nullish().describe('Continue this session'),
    persona: PersonaSchema.optional(),
    mode: z
      .enum(['sync', 'async', 'stream'], { error: 'mode must be one of sync, async, stream' })
      .optional()
      .describe('sync (default), async (202 + updates feed) or stream (SSE; also chosen by Accept: text/event-stream)'),
  })
  .strict();

const ChatHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1, 'Idempotency-Key must not be empty')
    .max(255, 'Idempotency-Key must be at most 255 characters')
    .optional()
    .describe('Same key and body within 24 h returns the first result without a second model call or charge'),
});

const SyncResponse = z.object({ sessionId: z.string(), message: MessageSchema, credits: CreditsSchema }).describe('ChatReply');
const AsyncResponse = z
  .object({
    status: z.literal('processing'),
    sessionId: z.string(),
    pollUrl: z.string().describe('GET this to receive the reply (kind reply) or the failure (kind error)'),
    credits: z.object({ used: z.number().int().describe('Reserved now, released if the turn fails') }),
  })
  .describe('ChatAccepted');
const StreamEvent = z
  .union([
    z.object({ type: z.literal('start'), sessionId: z.string() }),
    z.object({ type: z.literal('content'), text: z.string() }),
    z.object({ type: z.literal('end'), message: MessageSchema, credits: CreditsSchema }),
    z.object({ type: z.literal('error'), error: z.object({ code: z.string(), message: z.string() }) }),
  ])
  .describe('One `data:` line of the event stream');

type SyncBody = z.output<typeof SyncResponse>;
type AsyncBody = z.output<typeof AsyncResponse>;
/** What an Idempotency-Key stores: the reply (rendered per mode on replay) or the 202 body. */
type Stored = { kind: 'reply'; body: SyncBody } | { kind: 'accepted'; body: AsyncBody };

const syncBody = (r: ChatReply): SyncBody => ({ sessionId: r.sessionId, message: r.message, credits: r.credits });
const accepted = (sessionId: string, cost: number): AsyncBody => ({
  status: 'processing',
  sessionId,
  pollUrl: `/api/v1/updates?sessionId=${encodeURIComponent(sessionId)}`,
  credits: { used: cost },
});

/** The TuringMate chat endpoint: sync JSON, async 202 + updates feed, or an SSE stream. */
export function chatRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { chat } = ctx;

  async function stream(reply: FastifyReply, caller: Caller, turn: ChatTurn, claim: IdempotencyClaim<Stored> | undefined): Promise<void> {
    const sse = new SseWriter(reply);
    let outcome: ChatOutcome | undefined;
    try {
      sse.send({ type: 'start', sessionId: turn.sessionId });
      // The engine drives the turn; a vanished client only stops the writes, never the model.
      for await (const e of turn.events) if (e.type === 'delta') sse.send({ type: 'content', text: e.text });
      outcome = await turn.outcome;
      const delivered = outcome.ok
        ? sse.send({ type: 'end', message: outcome.reply.message, credits: outcome.reply.credits })
        : sse.send({ type: 'error', error: { code: outcome.error.code, message: outcome.error.message } });
      if (!delivered) await chat.publish(caller, turn, outcome);
    } finally {
      if (claim?.kind === 'new') {
        if (outcome?.ok) await claim.complete(200, { kind: 'reply', body: syncBody(outcome.reply) });
        else await claim.release();
      }
      sse.end();
    }
  }

  function replay(reply: FastifyReply, stored: Stored, mode: string) {
    void reply.header('idempotent-replayed', 'true');
    if (stored.kind === 'accepted') return reply.status(202).send(stored.body);
    if (mode !== 'stream') return reply.status(200).send(stored.body);
    const sse = new SseWriter(reply, { 'idempotent-replayed': 'true' });
    sse.send({ type: 'start', sessionId: stored.body.sessionId });
    sse.send({ type: 'content', text: stored.body.message.content });
    sse.send({ type: 'end', message: stored.body.message, credits: stored.body.credits });
    sse.end();
    return reply;
  }

  return async (app) => {
    app.post(
      '/chat',
      {
        schema: {
          tags: ['chat'],
          summary: 'Send a message to a character',
          description:
            'mode sync waits for the reply; async answers 202 and puts the reply on GET /api/v1/updates; stream (or Accept: text/event-stream) answers with Server-Sent Events: start, content per delta, then end or error.',
          security,
          headers: ChatHeaders,
          body: ChatBody,
          response: {
            200: {
              description: 'The reply (sync), or an event stream (stream)',
              content: { 'application/json': { schema: SyncResponse }, 'text/event-stream': { schema: StreamEvent } },
            },
            202: AsyncResponse,
            ...errorResponses,
            402: ErrorSchema.describe('No credits left on this key'),
            409: ErrorSchema.describe('Session bound to another character, or Idempotency-Key reused with another body'),
            413: ErrorSchema.describe('PAYLOAD_TOO_LARGE: body larger than MAX_BODY_BYTES; CONTEXT_TOO_LONG: the character and the message alone are over CONTEXT_TOKENS (nothing stored or charged)'),
            429: ErrorSchema.describe('RATE_LIMITED: see the Retry-After header; TOO_MANY_REFUSED_TURNS: the model refused too many of this key\'s turns this hour'),
            502: ErrorSchema.describe('MODEL_ERROR: the model server answered with an error; nothing charged'),
            503: ErrorSchema.describe('MODEL_UNAVAILABLE: no model backend reachable; nothing charged'),
          },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req);
        const body = req.body;
        const mode = body.mode ?? (wantsEventStream(req.headers.accept) ? 'stream' : 'sync');
        const key = req.headers['idempotency-key'];
        const claim = key ? await chat.idempotency.claim<Stored>(caller.keyId, key, requestHash('POST /api/v1/chat', body)) : undefined;
        if (claim?.kind === 'replay') return replay(reply, claim.response, mode);
        if (claim?.kind === 'answered') {
          // The process that ran the first request died; another one finished its turn.
          const stored: Stored = mode === 'async' ? { kind: 'accepted', body: accepted(claim.reply.sessionId, claim.reply.credits.used) } : { kind: 'reply', body: claim.reply };
          await claim.complete(mode === 'async' ? 202 : 200, stored);
          return replay(reply, stored, mode);
        }
        const chatReq: ChatRequest = { characterRef: body.characterId, text: body.message ?? '', imageUrl: body.imageUrl, sessionId: body.sessionId, turnId: claim?.turnId, ...(body.persona ? { persona: body.persona } : {}) };
        let turn: ChatTurn;
        try {
          if (mode === 'sync') {
            const out = syncBody(await chat.send(caller, chatReq));
            await claim?.complete(200, { kind: 'reply', body: out });
            return reply.status(200).send(out);
          }
          turn = mode === 'async' ? await chat.sendAsync(caller, chatReq) : await chat.start(caller, chatReq);
        } catch (err) {
          await claim?.release();
          throw err;
        }
        if (mode === 'async') {
          const out = accepted(turn.sessionId, turn.cost);
          await claim?.complete(202, { kind: 'accepted', body: out });
          return reply.status(202).send(out);
        }
        await stream(reply, caller, turn, claim);
        return reply;
      },
    );
  };
}
