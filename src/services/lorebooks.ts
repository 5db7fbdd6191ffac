import { NotFoundError, ValidationError } from '../core/errors.js';
import type { Character } from '../core/types.js';
import { loreReportOf, type LoreReport } from '../engine/index.js';
import { entryLabel, exportCharacterBook, exportWorldInfo, importLorebook, type LoreBook } from '../lore/index.js';
import type { LorebookRecord, LoreTarget, Store } from '../store/index.js';
import { ownedCharacter, visibleCharacter, visibleConversation, type Caller } from './access.js';

/** A lorebook as the API shows it: what it is, and its entries in brief. */
export interface LorebookView {
  id: string;
  name: string;
  description: string | null;
  entries: Array<{ id: number | string; label: string; keys: string[]; constant: boolean; enabled: boolean; position: string }>;
  createdAt: string;
  updatedAt: string;
}

export interface LorebookInput {
  name?: string | undefined;
  description?: string | null | undefined;
  /** Any lorebook JSON we read: SillyTavern world info, a `character_book`, `lorebook_v3`, or a whole card. */
  lorebook?: unknown;
}

export type LorebookFormat = 'worldinfo' | 'character_book';

/**
 * Lorebooks within the caller's tenancy (like characters: a key sees its own, the admin all;
 * anything else is a 404), and where they are attached: the caller's own characters (any for
 * the admin, presets included) or the caller's conversations.
 */
export class LorebookService {
  constructor(
    private readonly store: Store,
    /** Lorebooks a tenant key may own (MAX_LOREBOOKS_PER_KEY); the admin any number. */
    private readonly maxPerKey = 200,
  ) {}

  async list(caller: Caller, page: number, limit: number): Promise<{ lorebooks: LorebookView[]; total: number }> {
    const found = await this.store.lorebooks.list(caller.isAdmin ? null : caller.keyId, page, limit);
    return { lorebooks: found.lorebooks.map(viewOf), total: found.total };
  }

  async create(caller: Caller, input: LorebookInput): Promise<LorebookView> {
    if (input.lorebook === undefined) throw new ValidationError('lorebook is required: a world info file, a character_book or a card', { field: 'lorebook' });
    const book = importLorebook(input.lorebook, input.name ? { name: input.name } : {});
    const name = input.name ?? book.name ?? 'Lorebook';
    const record = await this.store.lorebooks.create(
      caller.keyId,
      { name, description: input.description ?? book.description ?? null, book: JSON.stringify(book) },
      caller.isAdmin ? {} : { maxOwned: this.maxPerKey },
    );
    return viewOf(record);
  }

  async get(caller: Caller, id: string): Promise<LorebookView> {
    return viewOf(await this.visible(caller, id));
  }

  async update(caller: Caller, id: string, input: LorebookInput): Promise<LorebookView> {
    await this.visible(caller, id);
    const patch: { name?: string; description?: string | null; book?: string } = {};
    if (input.name !== undefined) patch.name = input.name;
    if (input.description !== undefined) patch.description = input.description;
    if (input.lorebook !== undefined) patch.book = JSON.stringify(importLorebook(input.lorebook));
    return viewOf((await this.store.lorebooks.update(id, patch))!);
  }

  async delete(caller: Caller, id: string): Promise<void> {
    await this.visible(caller, id);
    await this.store.lorebooks.delete(id);
  }

  /** The book as SillyTavern world info (`{entries: {...}}`) or as a card `character_book`. */
  async export(caller: Caller, id: string, format: LorebookFormat): Promise<Record<string, unknown>> {
    const record = await this.visible(caller, id);
    const book = bookOf(record);
    return format === 'worldinfo' ? exportWorldInfo(book) : exportCharacterBook(book);
  }

  async attachToConversation(caller: Caller, conversationId: string, lorebookId: string): Promise<void> {
    const conv = await visibleConversation(this.store, caller, conversationId);
    await this.visible(caller, lorebookId);
    await this.store.lorebooks.attach(lorebookId, { kind: 'conversation', id: conv.id });
  }

  async detachFromConversation(caller: Caller, conversationId: string, lorebookId: string): Promise<void> {
    const conv = await visibleConversation(this.store, caller, conversationId);
    await this.detach(caller, lorebookId, { kind: 'conversation', id: conv.id });
  }

  async attachToCharacter(caller: Caller, characterRef: string, lorebookId: string): Promise<Character> {
    const c = await this.changeable(caller, characterRef);
    await this.visible(caller, lorebookId);
    await this.store.lorebooks.attach(lorebookId, { kind: 'character', id: c.id });
    return c;
  }

  async detachFromCharacter(caller: Caller, characterRef: string, lorebookId: string): Promise<void> {
    const c = await this.changeable(caller, characterRef);
    await this.detach(caller, lorebookId, { kind: 'character', id: c.id });
  }

  /** The lorebooks attached to a conversation the caller sees (its character's included). */
  async ofConversation(caller: Caller, conversationId: string): Promise<LorebookView[]> {
    const conv = await visibleConversation(this.store, caller, conversationId);
    const targets: LoreTarget[] = [{ kind: 'conversation', id: conv.id }];
    if (conv.characterId) targets.push({ kind: 'character', id: conv.characterId });
    return (await this.store.lorebooks.attachedTo(targets)).map(viewOf);
  }

  /** What fired on the conversation's last turn (`?debug=lorebook`); null before any turn with lorebooks. */
  async report(caller: Caller, conversationId: string): Promise<LoreReport | null> {
    const conv = await visibleConversation(this.store, caller, conversationId);
    return (await loreReportOf(this.store, conv.id)) ?? null;
  }

  private async detach(caller: Caller, lorebookId: string, target: LoreTarget): Promise<void> {
    await this.visible(caller, lorebookId);
    if (!(await this.store.lorebooks.detach(lorebookId, target))) throw new NotFoundError('Lorebook attachment', 'LOREBOOK_NOT_ATTACHED');
  }

  /** The admin attaches to any character (presets included); a tenant only to its own. */
  private changeable(caller: Caller, ref: string): Promise<Character> {
    return caller.isAdmin ? visibleCharacter(this.store, caller, ref) : ownedCharacter(this.store, caller, ref);
  }

  private async visible(caller: Caller, id: string): Promise<LorebookRecord> {
    const record = await this.store.lorebooks.get(id);
    if (!record || (!caller.isAdmin && record.ownerId !== caller.keyId)) throw new NotFoundError('Lorebook', 'LOREBOOK_NOT_FOUND');
    return record;
  }
}

function bookOf(record: LorebookRecord): LoreBook {
  return { ...(JSON.parse(record.book) as LoreBook), name: record.name, description: record.description ?? undefined };
}

function viewOf(record: LorebookRecord): LorebookView {
  const book = JSON.parse(record.book) as LoreBook;
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    entries: book.entries.map((e) => ({ id: e.id, label: entryLabel(e), keys: e.keys, constant: e.constant, enabled: e.enabled, position: e.position })),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
