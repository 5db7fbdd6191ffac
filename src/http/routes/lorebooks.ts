import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { callerOf } from '../auth.js';
import { attachment } from '../attachment.js';
import { DeletedSchema, errorResponses, IdParams, pageQuery, pagination, PaginationSchema, security } from '../schemas.js';
import type { HttpContext } from '../context.js';

const LorebookSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    entries: z.array(
      z.object({
        id: z.union([z.number(), z.string()]),
        label: z.string().describe('The entry’s name, memo or first key'),
        keys: z.array(z.string()),
        constant: z.boolean(),
        enabled: z.boolean(),
        position: z.string(),
      }),
    ),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .describe('Lorebook');

const name = z.string().trim().min(1, 'name must be 1-200 characters').max(200, 'name must be 1-200 characters');
const description = z.string().max(2000, 'description must be at most 2000 characters').nullable();
const lorebook = z.unknown().describe('SillyTavern world info JSON, a card character_book, a lorebook_v3 document or a whole V2/V3 card');
const CreateBody = z.object({ name: name.optional(), description: description.optional(), lorebook }).strict();
const UpdateBody = z.object({ name: name.optional(), description: description.optional(), lorebook: lorebook.optional() }).strict();
const AttachBody = z.object({ lorebookId: z.string().min(1, 'lorebookId is required').max(200) }).strict();
const LinkParams = z.object({ id: z.string().min(1).max(200), lorebookId: z.string().min(1).max(200) });
const ExportQuery = z.object({
  format: z.enum(['worldinfo', 'character_book'], { error: 'format must be worldinfo or character_book' }).default('worldinfo'),
});
const Attached = z.object({ lorebooks: z.array(LorebookSchema) });

/** Lorebooks (SillyTavern world info): CRUD and export within the key's tenancy, and attaching them to characters and conversations. */
export function lorebookRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { lorebooks } = ctx;
  const tags = ['lorebooks'];
  return async (app) => {
    app.get('/lorebooks', { schema: { tags, summary: 'List this key’s lorebooks', security, querystring: z.object(pageQuery), response: { 200: z.object({ lorebooks: z.array(LorebookSchema), pagination: PaginationSchema }), ...errorResponses } } }, async (req) => {
      const page = await lorebooks.list(callerOf(req), req.query.page, req.query.limit);
      return { lorebooks: page.lorebooks, pagination: pagination(req.query.page, req.query.limit, page.total) };
    });

    app.post('/lorebooks', { schema: { tags, summary: 'Create (import) a lorebook', security, body: CreateBody, response: { 201: LorebookSchema, ...errorResponses } } }, async (req, reply) =>
      reply.status(201).send(await lorebooks.create(callerOf(req), req.body)),
    );

    app.get('/lorebooks/:id', { schema: { tags, summary: 'Get a lorebook', security, params: IdParams, response: { 200: LorebookSchema, ...errorResponses } } }, async (req) =>
      lorebooks.get(callerOf(req), req.params.id),
    );

    app.patch('/lorebooks/:id', { schema: { tags, summary: 'Rename, describe or replace a lorebook’s entries', security, params: IdParams, body: UpdateBody, response: { 200: LorebookSchema, ...errorResponses } } }, async (req) =>
      lorebooks.update(callerOf(req), req.params.id, req.body),
    );

    app.delete('/lorebooks/:id', { schema: { tags, summary: 'Delete a lorebook (and detach it everywhere)', security, params: IdParams, response: { 200: DeletedSchema, ...errorResponses } } }, async (req) => {
      await lorebooks.delete(callerOf(req), req.params.id);
      return { id: req.params.id, deleted: true as const };
    });

    app.get('/lorebooks/:id/export', { schema: { tags, summary: 'Export as SillyTavern world info or a card character_book', security, params: IdParams, querystring: ExportQuery, response: { ...errorResponses } } }, async (req, reply) => {
      // Looked up first: an error answer carries no file name.
      const book = await lorebooks.export(callerOf(req), req.params.id, req.query.format);
      return reply.header('content-disposition', attachment(`${req.params.id}.json`)).send(book as never);
    });

    for (const kind of ['conversations', 'characters'] as const) {
      const attach = kind === 'conversations' ? lorebooks.attachToConversation.bind(lorebooks) : lorebooks.attachToCharacter.bind(lorebooks);
      const detach = kind === 'conversations' ? lorebooks.detachFromConversation.bind(lorebooks) : lorebooks.detachFromCharacter.bind(lorebooks);
      app.post(`/${kind}/:id/lorebooks`, { schema: { tags, summary: `Attach a lorebook to a ${kind.slice(0, -1)}`, security, params: IdParams, body: AttachBody, response: { 200: z.object({ attached: z.literal(true) }), ...errorResponses } } }, async (req) => {
        await attach(callerOf(req), req.params.id, req.body.lorebookId);
        return { attached: true as const };
      });
      app.delete(`/${kind}/:id/lorebooks/:lorebookId`, { schema: { tags, summary: `Detach a lorebook from a ${kind.slice(0, -1)}`, security, params: LinkParams, response: { 200: z.object({ detached: z.literal(true) }), ...errorResponses } } }, async (req) => {
        await detach(callerOf(req), req.params.id, req.params.lorebookId);
        return { detached: true as const };
      });
    }

    app.get('/conversations/:id/lorebooks', { schema: { tags, summary: 'Lorebooks that apply to a conversation (its own and its character’s)', security, params: IdParams, response: { 200: Attached, ...errorResponses } } }, async (req) => ({
      lorebooks: await lorebooks.ofConversation(callerOf(req), req.params.id),
    }));
  };
}
