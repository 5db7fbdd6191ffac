import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { createCharacterSchema, GENDERS, updateCharacterSchema, type CreateCharacter, type UpdateCharacter } from '../../core/character-schema.js';
import type { Character } from '../../core/types.js';
import { characterInputFrom, type CharacterInput } from '../../store/index.js';
import type { Caller } from '../../services/access.js';
import { callerOf } from '../auth.js';
import { DeletedSchema, errorResponses, ErrorSchema, IdParams, intParam, pageQuery, pagination, PaginationSchema, security } from '../schemas.js';
import type { HttpContext } from '../context.js';

const nullableText = z.string().nullable();

/** What a list shows per character: the TuringMate characters API's fields plus what a picker needs. */
export const CharacterSummarySchema = z
  .object({
    id: z.string(),
    slug: z.string().describe('Lowercase, hyphenated name; unique per owner; usable wherever an id is'),
    name: z.string(),
    description: nullableText,
    gender: z.enum(GENDERS).nullable(),
    age: z.number().int().nullable(),
    occupation: nullableText,
    avatar: nullableText,
    profilePhotoUrl: nullableText,
    canInitiateConversation: z.boolean(),
    isPublic: z.boolean(),
    isPreset: z.boolean(),
    ownership: z.enum(['preset', 'mine', 'public', 'other']).describe("How this key relates to the character ('other' only for the admin)"),
    tags: z.array(z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .describe('CharacterSummary');

/** The whole card, for GET/POST/PATCH of one character. */
export const CharacterSchema = CharacterSummarySchema.extend({
  personality: z.string(),
  speakingStyle: z.string(),
  appearanceDescription: nullableText,
  scenario: nullableText,
  greeting: nullableText,
  exampleDialogue: nullableText,
  systemPrompt: nullableText,
  postHistoryInstructions: nullableText,
  model: nullableText,
  nickname: nullableText.describe('Replaces the name in {{char}} (a card’s nickname)'),
  alternateGreetings: z.array(z.string()).describe('More first messages (/start 2, …)'),
  groupGreetings: z.array(z.string()).describe('First messages used in group chats only'),
  platformVisible: z.boolean().describe('Offered to platform users (set by the admin)'),
  fromCard: z.boolean().describe('Imported from a character card; exports give the card back whole'),
  memoryInstructions: nullableText.describe('What long-term memory should keep for this character'),
  fallbackModels: z.array(z.string()).describe('Models tried in order when the character’s own fails, before the server’s OPENAI_FALLBACK_MODELS'),
}).describe('Character');

const ListQuery = z
  .object({
    ...pageQuery,
    search: z.string().max(200, 'search must be at most 200 characters').optional().describe('Text search on name and description'),
    gender: z.enum(GENDERS, { error: 'gender must be one of male, female, non-binary, other' }).optional(),
    ageMin: intParam('ageMin', 18, 10000).optional().describe('Minimum age (min 18)'),
    ageMax: intParam('ageMax', 18, 10000).optional().describe('Maximum age'),
    occupation: z.string().max(200, 'occupation must be at most 200 characters').optional().describe('Text search on occupation'),
    ownership: z
      .enum(['all', 'mine', 'public', 'presets'], { error: 'ownership must be one of all, mine, public, presets' })
      .default('all')
      .describe('all (default), mine, public (shared by other keys), presets'),
  })
  .refine((q) => q.ageMin === undefined || q.ageMax === undefined || q.ageMax >= q.ageMin, {
    message: 'ageMax must be at least ageMin',
    path: ['ageMax'],
  });

function ownership(caller: Caller, c: Character): 'preset' | 'mine' | 'public' | 'other' {
  if (c.isPreset) return 'preset';
  if (c.ownerId === caller.keyId) return 'mine';
  return c.isPublic ? 'public' : 'other';
}

/** A character as the API shows it; the owner's key id is never exposed. */
export function characterView(caller: Caller, c: Character): z.output<typeof CharacterSchema> {
  return { ...c, ownership: ownership(caller, c) };
}

const toInput = (body: CreateCharacter): CharacterInput => characterInputFrom(body);

/** A PATCH body as a partial input: absent fields stay, explicit nulls clear. */
function toPatch(body: UpdateCharacter): Partial<CharacterInput> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (v !== undefined) out[k] = v;
  return out as Partial<CharacterInput>;
}

/** The TuringMate characters API: list, create, read, update and delete characters, within the caller's tenancy. */
export function characterRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { characters } = ctx;
  return async (app) => {
    app.get(
      '/characters',
      {
        schema: {
          tags: ['characters'],
          summary: 'List the characters this key can see',
          description: 'Presets, public characters and the key’s own. Out-of-range parameters are a 400, never clamped.',
          security,
          querystring: ListQuery,
          response: { 200: z.object({ characters: z.array(CharacterSummarySchema), pagination: PaginationSchema }), ...errorResponses },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const q = req.query;
        const page = await characters.list(caller, q);
        return { characters: page.characters.map((c) => characterView(caller, c)), pagination: pagination(q.page, q.limit, page.total) };
      },
    );

    app.post(
      '/characters',
      {
        schema: {
          tags: ['characters'],
          summary: 'Create a character owned by this key',
          security,
          body: createCharacterSchema,
          response: { 201: CharacterSchema, ...errorResponses },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req);
        const c = await characters.create(caller, toInput(req.body));
        return reply.status(201).send(characterView(caller, c));
      },
    );

    app.get(
      '/characters/:id',
      {
        schema: {
          tags: ['characters'],
          summary: 'Get one character (by id or slug)',
          security,
          params: IdParams,
          response: { 200: CharacterSchema, ...errorResponses },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        return characterView(caller, await characters.get(caller, req.params.id));
      },
    );

    app.patch(
      '/characters/:id',
      {
        schema: {
          tags: ['characters'],
          summary: 'Update a character you own (partial; same validation as create)',
          description:
            'Only the fields sent are checked, each with the bounds of create. A character imported from a card may hold values create ' +
            'would refuse (a short personality, no speaking style, a long description): they stay as they are unless sent.',
          security,
          params: IdParams,
          body: updateCharacterSchema,
          response: { 200: CharacterSchema, ...errorResponses, 403: ErrorSchema.describe('A preset, or not yours') },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        return characterView(caller, await characters.update(caller, req.params.id, toPatch(req.body)));
      },
    );

    app.delete(
      '/characters/:id',
      {
        schema: {
          tags: ['characters'],
          summary: 'Delete a character you own',
          description: 'Existing conversations keep their history; new messages in them need another character.',
          security,
          params: IdParams,
          response: { 200: DeletedSchema, ...errorResponses, 403: ErrorSchema.describe('A preset, or not yours') },
        },
      },
      async (req) => {
        const c = await characters.delete(callerOf(req), req.params.id);
        return { id: c.id, deleted: true as const };
      },
    );
  };
}
