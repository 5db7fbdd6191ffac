import { activate, newLoreBook, newLoreEntry, type ActivateInput, type LoreActivation, type LoreBook, type LoreEntry } from '../../src/lore/index.js';

/** One token per whitespace-separated word: budgets in tests read as word counts. */
export const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

let nextId = 0;
export function entry(fields: Partial<LoreEntry>): LoreEntry {
  return newLoreEntry({ id: nextId++, ...fields });
}

export function book(entries: Partial<LoreEntry>[], fields: Partial<LoreBook> = {}): LoreBook {
  return newLoreBook({ ...fields, entries: entries.map(entry) });
}

export function run(
  books: LoreBook | LoreBook[],
  messages: ActivateInput['messages'],
  rest: Partial<Omit<ActivateInput, 'messages'>> = {},
): LoreActivation {
  return activate(Array.isArray(books) ? books : [books], { countTokens: words, random: () => 0, ...rest, messages });
}

/** Contents of what fired, in insertion order. */
export const fired = (r: LoreActivation) => r.fired.map((f) => f.content);
