import { sql } from 'kysely';
import type { Character, Gender } from '../core/types.js';
import type { Clock } from '../core/clock.js';
import type { CreateCharacter } from '../core/character-schema.js';
import { QuotaExceededError } from '../core/errors.js';
import { ADMIN_OWNER, newId } from '../core/ids.js';
import type { DB } from './db.js';
import { chunks, LockSpace, type SqlDialect } from './dialect.js';
import type { CharacterRow } from './schema.js';
import { prepared } from './prepared.js';
import { writeNewVersion } from './versions.js';

/** Owner id stored for shipped presets. */
export const PRESET_OWNER = '';

/** The writable fields of a character, as the engine and the HTTP API pass them in. */
export type CharacterInput = Omit<Character, 'id' | 'slug' | 'ownerId' | 'isPreset' | 'createdAt' | 'updatedAt' | CardOnlyField> & {
  slug?: string;
} & Partial<Pick<Character, CardOnlyField>>;

/** Fields most writers never set (card imports and the admin do); absent means the column default. */
type CardOnlyField = 'nickname' | 'alternateGreetings' | 'groupGreetings' | 'platformVisible' | 'fromCard' | 'fallbackModels';

/**
 * Every column but the stored card and its picture: ordinary reads never load those (a picture
 * can be megabytes); {@link CharacterRepo.cardOf} and {@link CharacterRepo.avatarOf} do.
 */
type CharacterColumns = Exclude<keyof CharacterRow, 'card_json' | 'avatar_image' | 'avatar_mime'>;
type ListedRow = Pick<CharacterRow, CharacterColumns> & { has_card: number };
const COLUMNS = [
  'id', 'slug', 'owner_id', 'is_public', 'name', 'personality', 'speaking_style', 'description', 'gender', 'age', 'occupation',
  'appearance_description', 'avatar', 'profile_photo_url', 'can_initiate', 'scenario', 'greeting', 'example_dialogue', 'system_prompt',
  'post_history_instructions', 'tags', 'model', 'created_at', 'updated_at', 'platform_visible', 'nickname', 'alternate_greetings',
  'group_greetings', 'memory_instructions', 'fallback_models',
] as const satisfies readonly CharacterColumns[];
const hasCard = sql<number>`case when card_json is null then 0 else 1 end`.as('has_card');

// A turn's character lookups, compiled once (see prepared.ts).
const characterById = prepared((db, p: { id: string }) => db.selectFrom('characters').select([...COLUMNS, hasCard]).where('id', '=', p.id));
/** By id, or by slug among presets, public characters and the viewer's own (no viewer: `in (null, …)` matches none). */
const byIdOrVisibleSlug = prepared((db, p: { ref: string; slug: string; viewer: string | null }) =>
  db
    .selectFrom('characters')
    .select([...COLUMNS, hasCard])
    .where((eb) => eb.or([eb('id', '=', p.ref), eb.and([eb('slug', '=', p.slug), eb.or([eb('owner_id', 'in', [p.viewer, PRESET_OWNER]), eb('is_public', '=', 1)])])])),
);

/**
 * Characters platform users see: presets, the admin key's own (the operator adds them for the
 * platforms), public ones, and tenants' characters the admin made platform-visible.
 */
const platformVisible = sql<boolean>`(owner_id in (${PRESET_OWNER}, ${ADMIN_OWNER}) or is_public = 1 or platform_visible = 1)`;

/** A character's stored card (JSON text of `{card, files?}`) as the repository keeps it. */
export interface StoredCard {
  json: string;
}

/** A character's picture as bytes. */
export interface StoredAvatar {
  bytes: Buffer;
  mime: string;
}

export function toCharacter(r: ListedRow): Character {
  return {
    id: r.id,
    slug: r.slug,
    ownerId: r.owner_id === PRESET_OWNER ? null : r.owner_id,
    isPreset: r.owner_id === PRESET_OWNER,
    isPublic: r.is_public === 1,
    name: r.name,
    personality: r.personality,
    speakingStyle: r.speaking_style,
    description: r.description,
    gender: r.gender as Gender | null,
    age: r.age,
    occupation: r.occupation,
    appearanceDescription: r.appearance_description,
    avatar: r.avatar,
    profilePhotoUrl: r.profile_photo_url,
    canInitiateConversation: r.can_initiate === 1,
    scenario: r.scenario,
    greeting: r.greeting,
    exampleDialogue: r.example_dialogue,
    systemPrompt: r.system_prompt,
    postHistoryInstructions: r.post_history_instructions,
    tags: JSON.parse(r.tags) as string[],
    model: r.model,
    nickname: r.nickname,
    alternateGreetings: JSON.parse(r.alternate_greetings) as string[],
    groupGreetings: JSON.parse(r.group_greetings) as string[],
    platformVisible: r.platform_visible === 1,
    fromCard: r.has_card === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    memoryInstructions: r.memory_instructions ?? null,
    fallbackModels: JSON.parse(r.fallback_models ?? '[]') as string[],
  };
}

function toRow(input: Partial<CharacterInput>): Partial<CharacterRow> {
  const row: Partial<CharacterRow> = {};
  const map: Array<[keyof CharacterInput, keyof CharacterRow]> = [
    ['name', 'name'], ['personality', 'personality'], ['speakingStyle', 'speaking_style'], ['description', 'description'],
    ['gender', 'gender'], ['age', 'age'], ['occupation', 'occupation'], ['appearanceDescription', 'appearance_description'],
    ['avatar', 'avatar'], ['profilePhotoUrl', 'profile_photo_url'], ['scenario', 'scenario'], ['greeting', 'greeting'],
    ['exampleDialogue', 'example_dialogue'], ['systemPrompt', 'system_prompt'],
    ['postHistoryInstructions', 'post_history_instructions'], ['model', 'model'], ['slug', 'slug'], ['nickname', 'nickname'],
    ['memoryInstructions', 'memory_instructions'],
  ];
  for (const [from, to] of map) if (input[from] !== undefined) (row as Record<string, unknown>)[to] = input[from] ?? null;
  if (input.isPublic !== undefined) row.is_public = input.isPublic ? 1 : 0;
  if (input.canInitiateConversation !== undefined) row.can_initiate = input.canInitiateConversation ? 1 : 0;
  if (input.tags !== undefined) row.tags = JSON.stringify(input.tags);
  if (input.fallbackModels !== undefined) row.fallback_models = JSON.stringify(input.fallbackModels);
  if (input.alternateGreetings !== undefined) row.alternate_greetings = JSON.stringify(input.alternateGreetings);
  if (input.groupGreetings !== undefined) row.group_greetings = JSON.stringify(input.groupGreetings);
  if (input.platformVisible !== undefined) row.platform_visible = input.platformVisible ? 1 : 0;
  return row;
}

/** A validated card (HTTP body or preset file) as the repository's input: absent fields become null. */
export function characterInputFrom(c: CreateCharacter, over: Partial<CharacterInput> = {}): CharacterInput {
  return {
    name: c.name,
    personality: c.personality,
    speakingStyle: c.speakingStyle,
    description: c.description ?? null,
    gender: c.gender ?? null,
    age: c.age ?? null,
    occupation: c.occupation ?? null,
    appearanceDescription: c.appearanceDescription ?? null,
    avatar: c.avatar ?? null,
    profilePhotoUrl: c.profilePhotoUrl ?? null,
    canInitiateConversation: c.canInitiateConversation ?? false,
    isPublic: c.isPublic ?? false,
    scenario: c.scenario ?? null,
    greeting: c.greeting ?? null,
    exampleDialogue: c.exampleDialogue ?? null,
    systemPrompt: c.systemPrompt ?? null,
    postHistoryInstructions: c.postHistoryInstructions ?? null,
    tags: c.tags ?? [],
    model: c.model ?? null,
    ...(c.platformVisible !== undefined ? { platformVisible: c.platformVisible } : {}),
    memoryInstructions: c.memoryInstructions ?? null,
    ...(c.fallbackModels !== undefined ? { fallbackModels: c.fallbackModels } : {}),
    ...over,
  };
}

/** "Customer Support" → "customer-support"; never empty. */
export function slugify(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return s || 'character';
}

export type CharacterOwnership = 'all' | 'mine' | 'public' | 'presets';

/** Filters of the character list (the characters API's query parameters). */
export interface CharacterListQuery {
  /** Whose "mine" it is: an API key id, or 'admin'. */
  viewerId: string;
  /** The admin sees every character, private ones of other keys included. */
  seesAll: boolean;
  ownership: CharacterOwnership;
  /** Substring of name or description, case-insensitive. */
  search?: string | undefined;
  gender?: Gender | undefined;
  ageMin?: number | undefined;
  ageMax?: number | undefined;
  /** Substring of occupation, case-insensitive. */
  occupation?: string | undefined;
  page: number;
  limit: number;
}

/** `%` and `_` in user text match themselves, not anything. */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Characters: presets (owner ''), tenant-owned, and public ones. */
export class CharacterRepo {
  constructor(private db: DB, private clock: Clock, private dialect: SqlDialect) {}

  async get(id: string): Promise<Character | undefined> {
    const r = await characterById.first(this.db, { id });
    return r && toCharacter(r);
  }

  /** Names of these characters by id (deleted ones are absent), in a few queries however many. */
  async names(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const chunk of chunks(ids)) {
      for (const r of await this.db.selectFrom('characters').select(['id', 'name']).where('id', 'in', chunk).execute()) out.set(r.id, r.name);
    }
    return out;
  }

  /**
   * Find by id or slug among what `viewerId` may see: presets, public characters and its own
   * (`anyById`: any character by its id, as the admin sees them). An id wins over a slug; the
   * viewer's own slug wins over a preset's, which wins over a public one. One query for both
   * lookups: every API chat request resolves its character this way.
   */
  async findVisible(ref: string, viewerId: string | null, opts: { anyById?: boolean } = {}): Promise<Character | undefined> {
    const slug = ref.toLowerCase();
    const owners = viewerId === null ? [PRESET_OWNER] : [viewerId, PRESET_OWNER];
    const rows = await byIdOrVisibleSlug.rows(this.db, { ref, slug, viewer: viewerId });
    const visible = (r: ListedRow) => r.owner_id === PRESET_OWNER || r.is_public === 1 || r.owner_id === viewerId;
    const byId = rows.find((r) => r.id === ref);
    if (byId && (opts.anyById || visible(byId))) return toCharacter(byId);
    // The row found by id may not be a slug match: only those that are compete.
    const rank = (r: ListedRow) => (r.owner_id === viewerId ? 0 : r.owner_id === PRESET_OWNER ? 1 : 2);
    const best = rows.filter((r) => r.slug === slug && (owners.includes(r.owner_id) || r.is_public === 1)).sort((a, b) => rank(a) - rank(b))[0];
    return best && toCharacter(best);
  }

  /** Characters platform users see, by name or slug, case-insensitive (platform `/character Name`). */
  async findByName(name: string): Promise<Character | undefined> {
    const q = name.trim().toLowerCase();
    const r = await this.db
      .selectFrom('characters')
      .select([...COLUMNS, hasCard])
      .where(platformVisible)
      .where((eb) => eb.or([eb(sql`lower(name)`, '=', q), eb('slug', '=', slugify(q))]))
      .orderBy('owner_id', 'asc')
      .executeTakeFirst();
    return r && toCharacter(r);
  }

  /** What platform users see, presets first, then by name (the platform `/character` list). */
  async listShared(limit = 50): Promise<Character[]> {
    const rows = await this.db
      .selectFrom('characters')
      .select([...COLUMNS, hasCard])
      .where(platformVisible)
      .orderBy(sql`owner_id = ''`, 'desc')
      .orderBy('name')
      .limit(limit)
      .execute();
    return rows.map(toCharacter);
  }

  /**
   * One page of the characters `q.viewerId` may see, presets first, then by name, plus the
   * total for pagination. Both queries use the same filters, so `total` matches the pages.
   */
  async list(q: CharacterListQuery): Promise<{ characters: Character[]; total: number }> {
    let base = this.db.selectFrom('characters');
    const me = q.viewerId;
    if (q.ownership === 'mine') base = base.where('owner_id', '=', me);
    else if (q.ownership === 'presets') base = base.where('owner_id', '=', PRESET_OWNER);
    else if (q.ownership === 'public') base = base.where('is_public', '=', 1).where('owner_id', '!=', PRESET_OWNER);
    else if (!q.seesAll) base = base.where((eb) => eb.or([eb('owner_id', '=', PRESET_OWNER), eb('is_public', '=', 1), eb('owner_id', '=', me)]));
    if (q.search) {
      const p = likePattern(q.search);
      base = base.where(sql<boolean>`(lower(name) like ${p} escape '\\' or lower(coalesce(description, '')) like ${p} escape '\\')`);
    }
    if (q.occupation) base = base.where(sql<boolean>`lower(coalesce(occupation, '')) like ${likePattern(q.occupation)} escape '\\'`);
    if (q.gender) base = base.where('gender', '=', q.gender);
    if (q.ageMin !== undefined) base = base.where('age', '>=', q.ageMin);
    if (q.ageMax !== undefined) base = base.where('age', '<=', q.ageMax);
    const count = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base
      .select([...COLUMNS, hasCard])
      .orderBy(sql`owner_id = ''`, 'desc')
      .orderBy(sql`lower(name)`)
      .orderBy('id')
      .limit(q.limit)
      .offset((q.page - 1) * q.limit)
      .execute();
    return { characters: rows.map(toCharacter), total: Number(count.n) };
  }

  /**
   * Insert or refresh a shipped preset; its id is derived from the slug so reloads are idempotent.
   * Instances starting together on one PostgreSQL database all load the presets at once: `on
   * conflict (id)` absorbs a row another one inserted, but a row still being inserted trips the
   * (owner, slug) index instead, which it does not cover. The preset owner's slug lock makes the
   * loads take turns.
   */
  async upsertPreset(input: CharacterInput & { slug: string }): Promise<Character> {
    const now = new Date(this.clock.now()).toISOString();
    const id = `preset_${input.slug}`;
    const row = { ...toRow(input), is_public: 1 };
    await this.db.transaction().execute(async (tx) => {
      await this.dialect.lock(tx, LockSpace.characterSlug, PRESET_OWNER);
      await tx
        .insertInto('characters')
        .values({ ...(row as CharacterRow), id, slug: input.slug, owner_id: PRESET_OWNER, created_at: now, updated_at: now })
        .onConflict((oc) => oc.column('id').doUpdateSet({ ...row, updated_at: now }))
        .execute();
    });
    return (await this.get(id))!;
  }

  /**
   * Create a tenant character; the slug is made unique per owner by suffixing -2, -3… Slugs are
   * picked and inserted under a per-owner lock, so any number of concurrent creates with one name
   * get distinct slugs; an explicit slug that collides with a just-picked one is retried.
   */
  /** How many characters `ownerId` has created (its quota's count). */
  countOwned(ownerId: string): Promise<number> {
    return countOwned(this.db, ownerId);
  }

  /**
   * `maxOwned`: the owner's quota, counted under the same per-owner lock as the insert, so any
   * number of concurrent creates leave at most that many (else a QuotaExceededError).
   */
  async create(input: CharacterInput, ownerId: string, opts: { maxOwned?: number } = {}): Promise<Character> {
    const now = new Date(this.clock.now()).toISOString();
    const id = newId('char');
    await this.retryOnSlugClash(() =>
      this.db.transaction().execute(async (tx) => {
        await this.dialect.lock(tx, LockSpace.characterSlug, ownerId);
        if (opts.maxOwned !== undefined && (await countOwned(tx, ownerId)) >= opts.maxOwned) throw new QuotaExceededError('characters', opts.maxOwned);
        const slug = await uniqueSlug(tx, input.slug ?? slugify(input.name), ownerId);
        await tx
          .insertInto('characters')
          .values({ ...({ tags: '[]', fallback_models: '[]', is_public: 0, can_initiate: 0 } as Partial<CharacterRow>), ...(toRow(input) as CharacterRow), id, slug, owner_id: ownerId, created_at: now, updated_at: now })
          .execute();
      }),
    );
    return (await this.get(id))!;
  }

  /** Update fields; a new name without an explicit slug re-derives a slug unique for the owner. */
  async update(id: string, patch: Partial<CharacterInput>): Promise<Character | undefined> {
    await this.retryOnSlugClash(() =>
      this.db.transaction().execute(async (tx) => {
        const row = toRow(patch);
        if (patch.name !== undefined && patch.slug === undefined) {
          const current = await tx.selectFrom('characters').select(['name', 'owner_id']).where('id', '=', id).executeTakeFirst();
          if (current && current.name !== patch.name) {
            await this.dialect.lock(tx, LockSpace.characterSlug, current.owner_id);
            row.slug = await uniqueSlug(tx, slugify(patch.name), current.owner_id, id);
          }
        }
        await writeNewVersion(tx, 'characters', id, this.clock.now(), row);
      }),
    );
    return this.get(id);
  }

  /** Run `write` again when the unique (owner, slug) index refused it; other errors propagate. */
  private async retryOnSlugClash(write: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (attempt >= 5 || !this.dialect.isUniqueViolation(err)) throw err;
      }
    }
  }

  /** Keep the card a character was imported from (and the picture that came with it). */
  async saveCard(id: string, card: StoredCard, avatar: StoredAvatar | null): Promise<void> {
    await this.db
      .updateTable('characters')
      .set({ card_json: card.json, avatar_image: avatar?.bytes ?? null, avatar_mime: avatar?.mime ?? null })
      .where('id', '=', id)
      .execute();
  }

  /** The card a character was imported from, as stored; undefined for characters made otherwise. */
  async cardOf(id: string): Promise<StoredCard | undefined> {
    const r = await this.db.selectFrom('characters').select('card_json').where('id', '=', id).executeTakeFirst();
    return r?.card_json ? { json: r.card_json } : undefined;
  }

  /** The character's picture, when it has one stored. */
  async avatarOf(id: string): Promise<StoredAvatar | undefined> {
    const r = await this.db.selectFrom('characters').select(['avatar_image', 'avatar_mime']).where('id', '=', id).executeTakeFirst();
    if (!r?.avatar_image || !r.avatar_mime) return undefined;
    return { bytes: Buffer.from(r.avatar_image), mime: r.avatar_mime };
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('characters').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

}

/** How many characters `ownerId` has created. */
async function countOwned(db: DB, ownerId: string): Promise<number> {
  const r = await db.selectFrom('characters').select((eb) => eb.fn.countAll<number>().as('n')).where('owner_id', '=', ownerId).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** `base`, or the first of `base-2`, `base-3`… that `ownerId` has not used (ignoring `exceptId`). */
async function uniqueSlug(db: DB, base: string, ownerId: string, exceptId?: string): Promise<string> {
  const taken = new Set(
    (
      await db
        .selectFrom('characters')
        .select(['slug', 'id'])
        .where('owner_id', '=', ownerId)
        .where((eb) => eb.or([eb('slug', '=', base), eb('slug', 'like', `${base}-%`)]))
        .execute()
    )
      .filter((r) => r.id !== exceptId)
      .map((r) => r.slug),
  );
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}
