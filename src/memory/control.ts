import { NotFoundError, ValidationError } from '../core/errors.js';
import type { Character, Conversation } from '../core/types.js';
import type { MemoryFact, Store } from '../store/index.js';
import { memoryOwnerOf, significantWords } from './owner.js';

/** Longest fact a user may add by hand. */
export const MAX_ADDED_FACT_CHARS = 500;

/**
 * What users do with memory, the same from a chat command and from the HTTP API: list, add,
 * forget, clear. Forgetting is thorough: the fact goes, the messages it came from are never
 * recalled again, and the summary's sentences about it are cut.
 */
export class MemoryControl {
  constructor(private readonly store: Store, private readonly maxFacts: number) {}

  async list(conv: Conversation, character: Character): Promise<{ facts: MemoryFact[]; summary: string | null }> {
    const [facts, progress] = await Promise.all([this.store.memory.facts(memoryOwnerOf(conv, character)), this.store.memory.progress(conv.id, character.id)]);
    return { facts, summary: progress.summary };
  }

  async add(conv: Conversation, character: Character, text: string): Promise<MemoryFact> {
    const fact = text.trim().replace(/\s+/g, ' ');
    if (!fact) throw new ValidationError('Say what to remember', { field: 'text' });
    if (fact.length > MAX_ADDED_FACT_CHARS) throw new ValidationError(`A fact is at most ${MAX_ADDED_FACT_CHARS} characters`, { field: 'text' });
    const owner = memoryOwnerOf(conv, character);
    const added = await this.store.memory.addFact(owner, fact);
    await this.store.memory.trim(owner, this.maxFacts);
    return added;
  }

  /** Forget the fact with this id (the API's memoryId); NotFound when it is not this owner's. */
  async forget(conv: Conversation, character: Character, id: number): Promise<MemoryFact> {
    const fact = await this.store.memory.forgetFact(memoryOwnerOf(conv, character), id);
    if (!fact) throw new NotFoundError('Memory', 'MEMORY_NOT_FOUND');
    const { summary } = await this.store.memory.progress(conv.id, character.id);
    if (summary) {
      const cut = withoutSentencesAbout(summary, fact.text);
      if (cut !== summary) await this.store.memory.setSummary(conv.id, character.id, cut || null);
    }
    return fact;
  }

  /** Forget the fact numbered `n` in the list users see (1-based). */
  async forgetNumber(conv: Conversation, character: Character, n: number): Promise<MemoryFact | undefined> {
    const facts = await this.store.memory.facts(memoryOwnerOf(conv, character));
    const fact = facts[n - 1];
    return fact && this.forget(conv, character, fact.id);
  }

  /** Every fact and the summary go, and nothing said so far is recalled again. */
  async clear(conv: Conversation, character: Character): Promise<number> {
    const [newest] = await this.store.messages.newest(conv.id, { limit: 1 });
    return this.store.memory.clear(memoryOwnerOf(conv, character), [conv.id], newest?.seq ?? 0);
  }
}

/**
 * The summary without sentences about a forgotten fact: those sharing at least half of the
 * fact's significant words (at least one).
 */
export function withoutSentencesAbout(summary: string, fact: string): string {
  const words = significantWords(fact);
  if (!words.size) return summary;
  const need = Math.max(1, Math.ceil(words.size / 2));
  return summary
    .split(/(?<=[.!?])\s+/)
    .filter((s) => [...significantWords(s)].filter((w) => words.has(w)).length < need)
    .join(' ')
    .trim();
}
