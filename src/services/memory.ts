import { NotFoundError } from '../core/errors.js';
import type { Character, Conversation } from '../core/types.js';
import type { Engine } from '../engine/index.js';
import { MemoryControl } from '../memory/index.js';
import type { MemoryFact, Store } from '../store/index.js';
import { visibleConversation, type Caller } from './access.js';

/** What a conversation's character remembers, as the API shows it. */
export interface MemoryView {
  conversation: Conversation;
  character: Character;
  facts: MemoryFact[];
  summary: string | null;
}

/**
 * Long-term memory over HTTP: what the character of a conversation the caller may see remembers
 * about its owner, and the same changes `/memory` makes (add, forget, clear). Changes wait in
 * the conversation's queue, so they never interleave with a turn reading memory.
 */
export class MemoryService {
  constructor(
    private readonly store: Store,
    private readonly engine: Pick<Engine, 'characterOf' | 'serialized'>,
    private readonly control: MemoryControl,
  ) {}

  async list(caller: Caller, conversationId: string): Promise<MemoryView> {
    const { conversation, character } = await this.resolve(caller, conversationId);
    return { conversation, character, ...(await this.control.list(conversation, character)) };
  }

  async add(caller: Caller, conversationId: string, text: string): Promise<MemoryFact> {
    const { conversation, character } = await this.resolve(caller, conversationId);
    return this.engine.serialized(conversation, () => this.control.add(conversation, character, text));
  }

  /** Forget one fact by its id; a fact of another conversation's owner (or none) is a 404. */
  async forget(caller: Caller, conversationId: string, memoryId: string): Promise<MemoryFact> {
    const { conversation, character } = await this.resolve(caller, conversationId);
    const id = /^\d{1,15}$/.test(memoryId) ? Number(memoryId) : NaN;
    if (!Number.isSafeInteger(id)) throw new NotFoundError('Memory', 'MEMORY_NOT_FOUND');
    return this.engine.serialized(conversation, () => this.control.forget(conversation, character, id));
  }

  /** Forget everything; returns how many facts went. */
  async clear(caller: Caller, conversationId: string): Promise<{ conversation: Conversation; forgotten: number }> {
    const { conversation, character } = await this.resolve(caller, conversationId);
    const forgotten = await this.engine.serialized(conversation, () => this.control.clear(conversation, character));
    return { conversation, forgotten };
  }

  private async resolve(caller: Caller, id: string): Promise<{ conversation: Conversation; character: Character }> {
    const conversation = await visibleConversation(this.store, caller, id);
    return { conversation, character: await this.engine.characterOf(conversation) };
  }
}
