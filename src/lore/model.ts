/**
 * The normalized lorebook model every importer produces and every exporter reads. Field meanings
 * follow SillyTavern's world info (public/scripts/world-info.js) because that is what most
 * lorebooks in the wild were written for; the card `character_book` maps onto the same fields.
 */

/** How `secondaryKeys` combine with a primary match (SillyTavern's `world_info_logic`). */
export type LoreLogic = 'and_any' | 'not_all' | 'not_any' | 'and_all';

/**
 * Where an entry's content goes. The engine places `before_char`, `after_char` and `at_depth`;
 * the others are kept so books round-trip and so a builder that has those slots can use them.
 */
export type LorePosition =
  | 'before_char'
  | 'after_char'
  | 'an_top'
  | 'an_bottom'
  | 'at_depth'
  | 'em_top'
  | 'em_bottom'
  | 'outlet';

export type LoreRole = 'system' | 'user' | 'assistant';

export interface LoreEntry {
  /** SillyTavern `uid` / card `id`: stable within its book, shown in debug output. */
  id: number | string;
  /** Card `name` (not in SillyTavern's format). */
  name: string | undefined;
  /** SillyTavern's memo / title; card `comment`. Never put in the prompt. */
  comment: string;
  keys: string[];
  secondaryKeys: string[];
  content: string;
  enabled: boolean;
  constant: boolean;
  /** Only with `selective` do `secondaryKeys` filter activation (V2 spec, SillyTavern). */
  selective: boolean;
  logic: LoreLogic;
  /** Insertion order: higher goes later in its block and wins the token budget. */
  order: number;
  /** Card `priority`: kept for round trips; SillyTavern does not use it either. */
  priority: number | undefined;
  position: LorePosition;
  /** Messages from the end of history, for `at_depth`. */
  depth: number;
  role: LoreRole;
  /** Name of the outlet for `position: 'outlet'`. */
  outletName: string | undefined;
  /** null = the activation default. */
  caseSensitive: boolean | null;
  /** null = the activation default. */
  matchWholeWords: boolean | null;
  /** Every key is a regular expression source (V3 `use_regex`), not only `/…/flags` keys. */
  useRegex: boolean;
  /** null = the book's or the activation default. */
  scanDepth: number | null;
  excludeRecursion: boolean;
  preventRecursion: boolean;
  /** false/0 = off; true = level 1; n = fires only in recursion passes from level n on. */
  delayUntilRecursion: boolean | number;
  /** Percent, 0–100; only rolled when `useProbability`. */
  probability: number;
  useProbability: boolean;
  /**
   * SillyTavern fields this library does not interpret (inclusion groups, timed effects,
   * automation ids, character filters, …) and unknown top-level fields, by their SillyTavern
   * name, so exporting loses nothing.
   */
  extras: Record<string, unknown>;
  /** Card `extensions` keys from other applications, kept verbatim. */
  extensions: Record<string, unknown>;
}

export interface LoreBook {
  name: string | undefined;
  description: string | undefined;
  /** Book-wide scan depth (card `scan_depth`); entries may override. */
  scanDepth: number | undefined;
  /** Book-wide token cap (card `token_budget`), on top of the activation's budget. */
  tokenBudget: number | undefined;
  /** Card `recursive_scanning`; undefined = the activation default. */
  recursiveScanning: boolean | undefined;
  entries: LoreEntry[];
  /** Unknown top-level book fields (e.g. SillyTavern's `originalData`), kept verbatim. */
  extras: Record<string, unknown>;
  /** Card book `extensions`, kept verbatim. */
  extensions: Record<string, unknown>;
}

/** SillyTavern's numeric codes, index = code. */
export const POSITION_CODES: readonly LorePosition[] = [
  'before_char',
  'after_char',
  'an_top',
  'an_bottom',
  'at_depth',
  'em_top',
  'em_bottom',
  'outlet',
];
export const LOGIC_CODES: readonly LoreLogic[] = ['and_any', 'not_all', 'not_any', 'and_all'];
export const ROLE_CODES: readonly LoreRole[] = ['system', 'user', 'assistant'];

/** SillyTavern's defaults for a new entry (newWorldInfoEntryDefinition). */
export const ENTRY_DEFAULTS = {
  order: 100,
  depth: 4,
  probability: 100,
} as const;

export function codeOf<T>(codes: readonly T[], value: T): number {
  const i = codes.indexOf(value);
  if (i < 0) throw new Error(`unknown lore code value ${String(value)}`);
  return i;
}

/** A fresh entry with SillyTavern's defaults, for authoring tools and tests. */
export function newLoreEntry(fields: Partial<LoreEntry> & Pick<LoreEntry, 'id'>): LoreEntry {
  return {
    name: undefined,
    comment: '',
    keys: [],
    secondaryKeys: [],
    content: '',
    enabled: true,
    constant: false,
    selective: true,
    logic: 'and_any',
    order: ENTRY_DEFAULTS.order,
    priority: undefined,
    position: 'before_char',
    depth: ENTRY_DEFAULTS.depth,
    role: 'system',
    outletName: undefined,
    caseSensitive: null,
    matchWholeWords: null,
    useRegex: false,
    scanDepth: null,
    excludeRecursion: false,
    preventRecursion: false,
    delayUntilRecursion: false,
    probability: ENTRY_DEFAULTS.probability,
    useProbability: true,
    extras: {},
    extensions: {},
    ...fields,
  };
}

export function newLoreBook(fields: Partial<LoreBook> = {}): LoreBook {
  return {
    name: undefined,
    description: undefined,
    scanDepth: undefined,
    tokenBudget: undefined,
    recursiveScanning: undefined,
    entries: [],
    extras: {},
    extensions: {},
    ...fields,
  };
}

/** What authors recognise an entry by: its name, memo, or first key. */
export function entryLabel(entry: LoreEntry): string {
  return entry.name || entry.comment || entry.keys[0] || `#${entry.id}`;
}
