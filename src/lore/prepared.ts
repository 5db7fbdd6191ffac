import { compileKeys, type CompiledKey, type PatternWatch } from './keys.js';
import type { LoreEntry } from './model.js';

/** An enabled entry with its keys compiled, in its book's activation order. */
export interface PreparedEntry {
  entry: LoreEntry;
  entryIndex: number;
  /** Undefined when a key holds a macro (`{{user}}`, `<BOT>`…): compiled each scan, after substitution. */
  keys: CompiledKey[] | undefined;
  secondaryKeys: CompiledKey[] | undefined;
}

/** The key settings a book's entries fall back to. */
export interface KeyDefaults {
  caseSensitive: boolean;
  matchWholeWords: boolean;
}

const hasMacro = (keys: readonly string[]) => keys.some((k) => k.includes('{{') || k.includes('<'));

/**
 * Prepared entries by book (its entries array, which a book's cached copies share) and by what
 * compiling depends on: the defaults, the watchdog (its keys note what they test and blame the
 * book by its index in the scan) and the watchdog's refusals so far (a refused pattern is
 * compiled to never match). A scan of ten thousand entries otherwise spends most of its time and
 * garbage compiling the same keys every turn. Entries are never edited in place (an edit is a
 * new version, parsed anew). Set only once a list is complete: the scan runs under a watchdog
 * that may stop it anywhere.
 */
const prepared = new WeakMap<readonly LoreEntry[], Map<string, { watch: PatternWatch | undefined; refusals: number; list: PreparedEntry[] }>>();

/**
 * A book's enabled entries in activation priority within the book (constants first, then higher
 * `order`, then earlier entry), their keys compiled unless they hold macros.
 */
export function preparedEntries(entries: readonly LoreEntry[], defaults: KeyDefaults, watch: PatternWatch | undefined, bookIndex: number): PreparedEntry[] {
  const signature = `${defaults.caseSensitive}|${defaults.matchWholeWords}|${watch ? bookIndex : ''}`;
  const refusals = watch?.refusals ?? 0;
  const known = prepared.get(entries)?.get(signature);
  if (known && known.watch === watch && known.refusals === refusals) return known.list;
  const list: PreparedEntry[] = [];
  entries.forEach((entry, entryIndex) => {
    if (!entry.enabled) return;
    const options = keyOptions(entry, defaults, watch, bookIndex);
    const compile = (keys: readonly string[]) => (hasMacro(keys) ? undefined : compileKeys(keys, options));
    list.push({ entry, entryIndex, keys: compile(entry.keys), secondaryKeys: compile(entry.secondaryKeys) });
  });
  list.sort((a, b) => Number(b.entry.constant) - Number(a.entry.constant) || b.entry.order - a.entry.order || a.entryIndex - b.entryIndex);
  let bySignature = prepared.get(entries);
  if (!bySignature) prepared.set(entries, (bySignature = new Map()));
  bySignature.set(signature, { watch, refusals, list });
  return list;
}

export function keyOptions(entry: LoreEntry, defaults: KeyDefaults, watch: PatternWatch | undefined, bookIndex: number) {
  return {
    caseSensitive: entry.caseSensitive ?? defaults.caseSensitive,
    matchWholeWords: entry.matchWholeWords ?? defaults.matchWholeWords,
    useRegex: entry.useRegex,
    ...(watch ? { watch, book: bookIndex } : {}),
  };
}
