import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { MemoryFact } from '../../store/index.js';
import { callerOf } from '../auth.js';
import { DeletedSchema, errorResponses, IdParams, security } from '../schemas.js';
import type { HttpContext } from '../context.js';

const MemorySchema = z
  .object({
    id: z.string().describe('Pass to DELETE …/memory/:memoryId to forget it'),
    text: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .describe('Memory');

const MemoryList = z
  .object({
    sessionId: z.string(),
    characterId: z.string().describe('The character whose memory this is (each character remembers on its own)'),
    memories: z.array(MemorySchema).describe('Facts, oldest first (the numbering /memory shows)'),
    summary: z.string().nullable().describe('The rolling summary of turns that left the context window'),
  })
  .describe('MemoryList');

const AddBody = z.object({ text: z.string({ error: 'text is required' }).min(1, 'text is required').max(500, 'text must be at most 500 characters') });
const MemoryParams = IdParams.extend({ memoryId: z.string().min(1).max(40) });

const view = (f: MemoryFact) => ({ id: String(f.id), text: f.text, createdAt: new Date(f.createdMs).toISOString(), updatedAt: new Date(f.updatedMs).toISOString() });

/**
 * What a conversation's character remembers about its owner (long-term memory), and the
 * changes users make from chat with `/memory`: add, forget one, forget all. Another tenant's
 * conversation is a 404.
 */
export function memoryRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { memory } = ctx;
  return async (app) => {
    app.get(
      '/conversations/:id/memory',
      {
        schema: { tags: ['conversations'], summary: "What the conversation's character remembers", security, params: IdParams, response: { 200: MemoryList, ...errorResponses } },
      },
      async (req) => {
        const m = await memory.list(callerOf(req), req.params.id);
        return { sessionId: m.conversation.id, characterId: m.character.id, memories: m.facts.map(view), summary: m.summary };
      },
    );

    app.post(
      '/conversations/:id/memory',
      {
        schema: { tags: ['conversations'], summary: 'Add a fact for the character to remember', security, params: IdParams, body: AddBody, response: { 201: MemorySchema, ...errorResponses } },
      },
      async (req, reply) => reply.status(201).send(view(await memory.add(callerOf(req), req.params.id, req.body.text))),
    );

    app.delete(
      '/conversations/:id/memory/:memoryId',
      {
        schema: {
          tags: ['conversations'],
          summary: 'Forget one fact: it and the messages it came from never reach the model again',
          security,
          params: MemoryParams,
          response: { 200: DeletedSchema, ...errorResponses },
        },
      },
      async (req) => {
        const f = await memory.forget(callerOf(req), req.params.id, req.params.memoryId);
        return { id: String(f.id), deleted: true as const };
      },
    );

    app.delete(
      '/conversations/:id/memory',
      {
        schema: {
          tags: ['conversations'],
          summary: 'Forget everything the character remembers here; nothing said so far is recalled again',
          security,
          params: IdParams,
          response: { 200: z.object({ sessionId: z.string(), cleared: z.literal(true), forgotten: z.number().int() }), ...errorResponses },
        },
      },
      async (req) => {
        const r = await memory.clear(callerOf(req), req.params.id);
        return { sessionId: r.conversation.id, cleared: true as const, forgotten: r.forgotten };
      },
    );
  };
}
