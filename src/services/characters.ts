import type { Character } from '../core/types.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import { checkPlatformName } from '../characters/names.js';
import type { CardFormat } from '../cards/index.js';
import { avatarOf, exportCard, importCard, type ExportedCard } from '../characters/cards.js';
import { globalDefault } from '../engine/index.js';
import type { CharacterInput, CharacterListQuery, Store } from '../store/index.js';
import { ADMIN_ID, canSeeCharacter, ownedCharacter, visibleCharacter, type Caller } from './access.js';

/**
 * Characters as every HTTP API sees them, within the caller's tenancy: presets, public
 * characters and the caller's own; the admin sees all. Changing or deleting needs ownership.
 */
export class CharacterService {
  private allowed: Promise<ReadonlySet<string> | '*'> | undefined;

  constructor(
    private readonly store: Store,
    private readonly defaultCharacter: string,
    private readonly models: { model: string; allowlist: readonly string[] },
    /** Characters a tenant key may own (MAX_CHARACTERS_PER_KEY). */
    private readonly maxPerKey = 200,
  ) {}

  list(caller: Caller, q: Omit<CharacterListQuery, 'viewerId' | 'seesAll'>): Promise<{ characters: Character[]; total: number }> {
    return this.store.characters.list({ ...q, viewerId: caller.keyId, seesAll: caller.isAdmin });
  }

  /** By id or slug among what the caller may see; anything else is a 404. */
  get(caller: Caller, ref: string): Promise<Character> {
    return visibleCharacter(this.store, caller, ref);
  }

  async create(caller: Caller, input: CharacterInput): Promise<Character> {
    checkVisibilityField(caller, input.platformVisible);
    await this.checkModels(caller, input);
    if (isPlatformVisible({ ...input, isPreset: false, platformVisible: input.platformVisible ?? false, ownerId: caller.keyId })) {
      await checkPlatformName(this.store, input.name);
    }
    return this.store.characters.create(input, caller.keyId, this.quotaOf(caller));
  }

  async update(caller: Caller, ref: string, patch: Partial<CharacterInput>): Promise<Character> {
    const c = await ownedCharacter(this.store, caller, ref);
    checkVisibilityField(caller, patch.platformVisible);
    await this.checkModels(caller, patch);
    const after = { ...c, ...patch } as Character;
    if (isPlatformVisible(after) && (patch.name !== undefined || !isPlatformVisible(c))) await checkPlatformName(this.store, after.name, c.id);
    return (await this.store.characters.update(c.id, patch)) ?? c;
  }

  async delete(caller: Caller, ref: string): Promise<Character> {
    const c = await ownedCharacter(this.store, caller, ref);
    await this.store.characters.delete(c.id);
    return c;
  }

  /**
   * A character from a card file, owned by the caller and private. A card exported here may name
   * a model (in `extensions.charbridge`): the caller's model allowlist applies as on create.
   */
  importCard(caller: Caller, bytes: Buffer, contentType: string | undefined, maxCardBytes: number): Promise<Character> {
    return importCard(this.store, bytes, contentType, {
      ownerId: caller.keyId,
      // A card takes no more room however it arrives: a zip or a compressed PNG chunk of a few
      // kilobytes may not unpack to hundreds of megabytes in memory and in the database.
      maxUnpackedBytes: maxCardBytes,
      checkName: caller.isAdmin,
      ...this.quotaOf(caller),
      checkFields: (fields) => this.checkModel(caller, fields.model),
    });
  }

  /** A character the caller can see as a card file. */
  async exportCard(caller: Caller, ref: string, format: CardFormat): Promise<ExportedCard> {
    return exportCard(this.store, await visibleCharacter(this.store, caller, ref), format);
  }

  /**
   * A character's picture. With a key: any character the key can see. Without one (Discord and
   * chat clients fetch avatars by URL): presets, public and platform-visible characters only;
   * anything else is a 404, as if it did not exist.
   */
  async avatar(caller: Caller | null, ref: string): Promise<{ bytes: Buffer; mime: string }> {
    const c = caller ? await visibleCharacter(this.store, caller, ref) : await this.store.characters.get(ref);
    if (!c || (!caller && !isPlatformVisible(c))) throw new NotFoundError('Character', 'CHARACTER_NOT_FOUND');
    return avatarOf(this.store, c);
  }

  /** A tenant key owns at most MAX_CHARACTERS_PER_KEY characters (imports count too); the admin any number. */
  private quotaOf(caller: Caller): { maxOwned?: number } {
    return caller.isAdmin ? {} : { maxOwned: this.maxPerKey };
  }

  /**
   * A tenant names only allowed models on its characters: each turn of its character is a call
   * the operator pays for upstream (`MODEL_ALLOWLIST`; by default the configured model and the
   * presets' own). The admin may name any.
   */
  /** The character's model and its fallbacks: all within the caller's allowlist. */
  private async checkModels(caller: Caller, c: { model?: string | null | undefined; fallbackModels?: readonly string[] | undefined }): Promise<void> {
    await this.checkModel(caller, c.model);
    for (const m of c.fallbackModels ?? []) await this.checkModel(caller, m, 'fallbackModels');
  }

  private async checkModel(caller: Caller, model: string | null | undefined, field = 'model'): Promise<void> {
    if (!model || caller.isAdmin) return;
    const allowed = await (this.allowed ??= this.allowedModels());
    if (allowed === '*' || allowed.has(model)) return;
    throw new ValidationError(`${field} must be one of ${[...allowed].join(', ')} (the models this server allows)`, { field });
  }

  private async allowedModels(): Promise<ReadonlySet<string> | '*'> {
    const { allowlist, model } = this.models;
    if (allowlist.includes('*')) return '*';
    if (allowlist.length) return new Set(allowlist);
    const presets = await this.store.characters.list({ viewerId: '', seesAll: true, ownership: 'presets', page: 1, limit: 100 });
    return new Set([model, ...presets.characters.flatMap((c) => (c.model ? [c.model] : []))]);
  }

  /** The caller's default character: its key's own choice when it can still see it, else the server's. */
  async defaultFor(caller: Caller): Promise<Character> {
    const own = caller.apiKey?.defaultCharacterId ? await this.store.characters.get(caller.apiKey.defaultCharacterId) : undefined;
    return own && canSeeCharacter(caller, own) ? own : globalDefault(this.store, this.defaultCharacter);
  }
}

/** `platformVisible` is the admin's to set: it puts a tenant's character in front of every platform user. */
function checkVisibilityField(caller: Caller, value: boolean | undefined): void {
  if (value !== undefined && !caller.isAdmin) throw new ForbiddenError('Only the admin key can set platformVisible');
}

/** Offered on the platforms: presets, the admin's characters, public ones and those the admin made platform-visible. */
export function isPlatformVisible(c: Pick<Character, 'isPreset' | 'isPublic' | 'platformVisible' | 'ownerId'>): boolean {
  return c.isPreset || c.isPublic || c.platformVisible || c.ownerId === ADMIN_ID;
}
