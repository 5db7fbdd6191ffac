import type { Character } from '../core/types.js';
import { globalDefault } from '../engine/index.js';
import type { CharacterInput, CharacterListQuery, Store } from '../store/index.js';
import { canSeeCharacter, ownedCharacter, visibleCharacter, type Caller } from './access.js';

/**
 * Characters as every HTTP API sees them, within the caller's tenancy: presets, public
 * characters and the caller's own; the admin sees all. Changing or deleting needs ownership.
 */
export class CharacterService {
  constructor(private readonly store: Store, private readonly defaultCharacter: string) {}

  list(caller: Caller, q: Omit<CharacterListQuery, 'viewerId' | 'seesAll'>): Promise<{ characters: Character[]; total: number }> {
    return this.store.characters.list({ ...q, viewerId: caller.keyId, seesAll: caller.isAdmin });
  }

  /** By id or slug among what the caller may see; anything else is a 404. */
  get(caller: Caller, ref: string): Promise<Character> {
    return visibleCharacter(this.store, caller, ref);
  }

  create(caller: Caller, input: CharacterInput): Promise<Character> {
    return this.store.characters.create(input, caller.keyId);
  }

  async update(caller: Caller, ref: string, patch: Partial<CharacterInput>): Promise<Character> {
    const c = await ownedCharacter(this.store, caller, ref);
    return (await this.store.characters.update(c.id, patch)) ?? c;
  }

  async delete(caller: Caller, ref: string): Promise<Character> {
    const c = await ownedCharacter(this.store, caller, ref);
    await this.store.characters.delete(c.id);
    return c;
  }

  /** The caller's default character: its key's own choice when it can still see it, else the server's. */
  async defaultFor(caller: Caller): Promise<Character> {
    const own = caller.apiKey?.defaultCharacterId ? await this.store.characters.get(caller.apiKey.defaultCharacterId) : undefined;
    return own && canSeeCharacter(caller, own) ? own : globalDefault(this.store, this.defaultCharacter);
  }
}
