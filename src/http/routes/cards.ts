import { z } from 'zod';
import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { CharbridgeError, ValidationError } from '../../core/errors.js';
import { callerOf, presentedKey, type CallerResolver } from '../auth.js';
import { errorResponses, ErrorSchema, IdParams, security } from '../schemas.js';
import type { HttpContext } from '../context.js';
import { attachment } from '../attachment.js';
import { characterView, CharacterSchema } from './characters.js';

const ExportQuery = z.object({
  format: z.enum(['png', 'json', 'charx'], { error: 'format must be one of png, json, charx' }).default('png'),
});

/**
 * Character cards in and out: import (raw body or multipart field `file`) and export. The import
 * route reads its body as bytes whatever the content type, up to MAX_CARD_BYTES (a PNG card
 * carries a picture, so it is allowed more than MAX_BODY_BYTES); only this scope parses so.
 */
export function cardRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { characters } = ctx;
  const limit = ctx.config.http.maxCardBytes;
  return async (app) => {
    app.removeAllContentTypeParsers();
    await app.register(fastifyMultipart, { limits: { fileSize: limit, files: 1, fields: 10 } });
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_req, body, done) => done(null, body));

    app.post(
      '/characters/import',
      {
        bodyLimit: limit,
        schema: {
          tags: ['characters'],
          summary: 'Import a character card (SillyTavern PNG, JSON V1/V2/V3, or CHARX)',
          description:
            'The card as the raw body (Content-Type image/png, application/json or application/zip), or as multipart field `file`. ' +
            'The new character is owned by this key and private; the card is kept whole for export, its picture becomes the avatar. ' +
            'A broken file is a 400 naming what is wrong; a file over MAX_CARD_BYTES a 413, and so is a CHARX or a compressed PNG card chunk that unpacks to more (TOO_LARGE).',
          security,
          response: { 201: CharacterSchema, ...errorResponses, 413: ErrorSchema.describe('Card larger than MAX_CARD_BYTES') },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req);
        const { bytes, type } = await uploaded(req, limit);
        const c = await characters.importCard(caller, bytes, type, limit);
        return reply.status(201).send(characterView(caller, c));
      },
    );

    app.get(
      '/characters/:id/export',
      {
        schema: {
          tags: ['characters'],
          summary: 'Export a character as a V3 card (PNG with ccv3 and chara chunks, JSON, or CHARX)',
          security,
          params: IdParams,
          querystring: ExportQuery,
          response: { ...errorResponses },
        },
      },
      async (req, reply) => {
        const file = await characters.exportCard(callerOf(req), req.params.id, req.query.format);
        return reply.type(file.mime).header('content-disposition', attachment(file.fileName)).send(file.bytes as never); // bytes bypass the JSON serializer
      },
    );
  };
}

/** The uploaded card's bytes and declared type, from a multipart `file` field or the raw body. */
async function uploaded(req: FastifyRequest, limit: number): Promise<{ bytes: Buffer; type: string | undefined }> {
  if (req.isMultipart()) {
    let part: Awaited<ReturnType<FastifyRequest['file']>>;
    try {
      part = await req.file();
    } catch (err) {
      // A body that is not multipart after all (no boundary, not a form): the client's mistake.
      throw new ValidationError(`The multipart body could not be read: ${(err as Error).message}`, { field: 'file' });
    }
    if (!part || part.fieldname !== 'file') throw new ValidationError('Send the card as multipart field "file"', { field: 'file' });
    try {
      return { bytes: await part.toBuffer(), type: part.mimetype };
    } catch (err) {
      // The multipart reader's own words ("request file too large") tell a person nothing about the limit.
      if ((err as { code?: unknown }).code !== 'FST_REQ_FILE_TOO_LARGE') throw err;
      throw new CharbridgeError('PAYLOAD_TOO_LARGE', `${part.filename || 'The card file'} is larger than ${limit} bytes, the most this server takes (MAX_CARD_BYTES)`, {
        status: 413,
        details: { field: 'file', limit },
      });
    }
  }
  if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
    throw new ValidationError('Send the card file as the request body (or as multipart field "file")', { field: 'body' });
  }
  return { bytes: req.body, type: req.headers['content-type'] };
}

/**
 * `GET /api/v1/characters/:id/avatar`, outside the key check: Discord and chat clients fetch
 * avatars by URL without a key. With a key (or the console's session cookie, which an <img>
 * sends) it serves what the caller can see; without, only the characters offered on the
 * platforms. A picture only the caller may see is never cached by shared caches.
 */
export function registerAvatarRoute(app: FastifyInstance, ctx: HttpContext, consoleViewer?: CallerResolver): void {
  app.get<{ Params: { id: string } }>('/api/v1/characters/:id/avatar', { schema: { hide: true } }, async (req, reply) => {
    const id = req.params.id;
    if (id.length > 200) throw new ValidationError('id must be at most 200 characters', { field: 'id' });
    const key = presentedKey(req);
    const caller = key ? await ctx.access.callerFor(key) : ((await consoleViewer?.(req)) ?? null);
    const image = await ctx.characters.avatar(caller, id);
    return reply
      .type(image.mime)
      .header('cache-control', `${caller ? 'private' : 'public'}, max-age=300`)
      .send(image.bytes);
  });
}
