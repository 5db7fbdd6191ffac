import type { Character } from '../core/types.js';
import { CharbridgeError, ValidationError } from '../core/errors.js';
import { globalDefault } from '../engine/index.js';
import type { CharacterInput, CharacterListQuery, Store } from '../store/index.js';
import { canSeeCharacter, ownedCharacter, visibleCharacter, type Caller } from './access.js';

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
    await this.checkModel(caller, input.model);
    if (!caller.isAdmin && (await this.store.characters.countOwned(caller.keyId)) >= this.maxPerKey) {
      throw new CharbridgeError('QUOTA_EXCEEDED', `This key already has ${this.maxPerKey} characters, the most it may have; delete one first`, {
        status: 403,
        details: { limit: this.maxPerKey },
      });
    }
    return this.store.characters.create(input, caller.keyId);
  }

  async update(caller: Caller, ref: string, patch: Partial<CharacterInput>): Promise<Character> {
    const c = await ownedCharacter(this.store, caller, ref);
    await this.checkModel(caller, patch.model);
    return (await this.store.characters.update(c.id, patch)) ?? c;
  }

  async delete(caller: Caller, ref: string): Promise<Character> {
    const c = await ownedCharacter(this.store, caller, ref);
    await this.store.characters.delete(c.id);
    return c;
  }

  /**
   * A tenant names only allowed models on its characters: each turn of its character is a call
   * the operator pays for upstream (`MODEL_ALLOWLIST`; by default the configured model and the
   * presets' own). The admin may name any.
   */
  private async checkModel(caller: Caller, model: string | null | undefined): Promise<void> {
    if (!model || caller.isAdmin) return;
    const allowed = await (this.allowed ??= this.allowedModels());
    if (allowed === '*' || allowed.has(model)) return;
    throw new ValidationError(`model must be one of ${[...allowed].join(', ')} (the models this server allows)`, { field: 'model' });
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
