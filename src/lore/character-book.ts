import { z } from 'zod';
import { codeOf, ENTRY_DEFAULTS, LOGIC_CODES, POSITION_CODES, ROLE_CODES, type LoreBook, type LoreEntry } from './model.js';
import {
  CARD_EXTENSION_TO_ST_EXTRA,
  INTERPRETED_CARD_EXTENSIONS,
  ST_EXTRA_TO_CARD_EXTENSION,
  ST_FILE_ONLY_BOOK_FIELDS,
  pickRest,
} from './extension-names.js';
import { field, parseOrThrow } from './validate.js';

/** The SillyTavern fields a card entry carries in `extensions` that we interpret. */
const stExtensionsSchema = z.looseObject({
  position: field.int(0, 7).optional(),
  depth: field.int(0).optional(),
  role: field.int(0, 2).nullable().optional(),
  selectiveLogic: field.int(0, 3).optional(),
  probability: field.number(0, 100).nullable().optional(),
  useProbability: field.bool().optional(),
  exclude_recursion: field.bool().optional(),
  prevent_recursion: field.bool().optional(),
  delay_until_recursion: z.union([field.bool(), field.int(0)], { error: 'must be true, false or a whole number' }).optional(),
  scan_depth: field.int(0).nullable().optional(),
  case_sensitive: field.bool().nullable().optional(),
  match_whole_words: field.bool().nullable().optional(),
  outlet_name: field.text().optional(),
});

/** Character Card V2/V3 `character_book` entry (V3 adds `use_regex`). */
const cardEntrySchema = z.looseObject({
  keys: field.strings().optional(),
  content: field.text().optional(),
  extensions: stExtensionsSchema.optional(),
  enabled: field.bool().optional(),
  insertion_order: field.number(-1e9, 1e9).optional(),
  case_sensitive: field.bool().nullable().optional(),
  use_regex: field.bool().optional(),
  constant: field.bool().optional(),
  name: field.text().optional(),
  priority: field.number(-1e9, 1e9).optional(),
  id: z.union([field.int(0), field.text()], { error: 'must be a whole number or a string' }).optional(),
  comment: field.text().optional(),
  selective: field.bool().optional(),
  secondary_keys: field.strings().optional(),
  position: z.enum(['before_char', 'after_char', ''], { error: "must be 'before_char' or 'after_char'" }).optional(),
});

const cardBookSchema = z.looseObject({
  name: field.text().optional(),
  description: field.text().optional(),
  scan_depth: field.int(0).optional(),
  token_budget: field.int(0).optional(),
  recursive_scanning: field.bool().optional(),
  extensions: field.record().optional(),
  entries: z.array(cardEntrySchema, { error: 'must be a list of entries' }),
});

type CardEntry = z.output<typeof cardEntrySchema>;

const ENTRY_FIELDS = new Set(Object.keys(cardEntrySchema.shape));
const BOOK_FIELDS = new Set(Object.keys(cardBookSchema.shape));

/**
 * SillyTavern writes `use_regex: true` on every exported entry while its keys stay plain text
 * ("ST keys are always regex": only `/…/` keys are patterns). Such entries are recognised by the
 * SillyTavern-only extension fields and keep SillyTavern's meaning; our own exports look the same,
 * so they mark a real `use_regex` with this extension key.
 */
const OWN_REGEX_MARKER = 'charbridge/use_regex';

function writtenBySillyTavern(ext: Record<string, unknown>): boolean {
  return 'selectiveLogic' in ext && 'position' in ext && ext[OWN_REGEX_MARKER] !== true;
}

function entryFromCard(raw: CardEntry, index: number): LoreEntry {
  const ext = raw.extensions ?? {};
  const extras: Record<string, unknown> = pickRest(raw, ENTRY_FIELDS);
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ext)) {
    if (INTERPRETED_CARD_EXTENSIONS.has(k) || k === OWN_REGEX_MARKER || v === undefined) continue;
    const stName = CARD_EXTENSION_TO_ST_EXTRA[k];
    if (stName) extras[stName] = v;
    else extensions[k] = v;
  }
  const stMade = writtenBySillyTavern(ext);
  // Kept verbatim so a SillyTavern export gets its `use_regex: true` back, without meaning it.
  if (stMade && raw.use_regex === true) extras['use_regex'] = true;
  const position = ext.position !== undefined ? POSITION_CODES[ext.position] : raw.position === 'before_char' ? 'before_char' : 'after_char';
  return {
    id: raw.id ?? index,
    name: raw.name,
    comment: raw.comment ?? '',
    keys: raw.keys ?? [],
    secondaryKeys: raw.secondary_keys ?? [],
    content: raw.content ?? '',
    // The spec requires `enabled`; an entry that omits it is taken as on rather than silently dead.
    enabled: raw.enabled ?? true,
    constant: raw.constant ?? false,
    selective: raw.selective ?? false,
    logic: LOGIC_CODES[ext.selectiveLogic ?? 0] ?? 'and_any',
    order: raw.insertion_order ?? ENTRY_DEFAULTS.order,
    priority: raw.priority,
    position: position ?? 'after_char',
    depth: ext.depth ?? ENTRY_DEFAULTS.depth,
    role: ROLE_CODES[ext.role ?? 0] ?? 'system',
    outletName: ext.outlet_name,
    caseSensitive: raw.case_sensitive ?? ext.case_sensitive ?? null,
    matchWholeWords: ext.match_whole_words ?? null,
    useRegex: stMade ? false : (raw.use_regex ?? false),
    scanDepth: ext.scan_depth ?? null,
    excludeRecursion: ext.exclude_recursion ?? false,
    preventRecursion: ext.prevent_recursion ?? false,
    delayUntilRecursion: ext.delay_until_recursion ?? false,
    probability: ext.probability ?? ENTRY_DEFAULTS.probability,
    useProbability: ext.useProbability ?? true,
    extras,
    extensions,
  };
}

/** Reads a V2/V3 card's `character_book`. Throws a ValidationError naming the first bad field. */
export function importCharacterBook(json: unknown): LoreBook {
  const raw = parseOrThrow(cardBookSchema, json, 'character_book');
  return {
    name: raw.name,
    description: raw.description,
    scanDepth: raw.scan_depth,
    tokenBudget: raw.token_budget,
    recursiveScanning: raw.recursive_scanning,
    entries: raw.entries.map(entryFromCard),
    extras: pickRest(raw, BOOK_FIELDS),
    extensions: raw.extensions ?? {},
  };
}

function entryToCard(e: LoreEntry): Record<string, unknown> {
  const mapped: Record<string, unknown> = {};
  const topLevel: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(structuredClone(e.extras))) {
    const cardName = ST_EXTRA_TO_CARD_EXTENSION[k];
    if (cardName) mapped[cardName] = v;
    else topLevel[k] = v;
  }
  return {
    id: e.id,
    keys: [...e.keys],
    secondary_keys: [...e.secondaryKeys],
    comment: e.comment,
    content: e.content,
    constant: e.constant,
    selective: e.selective,
    insertion_order: e.order,
    enabled: e.enabled,
    position: e.position === 'before_char' ? 'before_char' : 'after_char',
    use_regex: e.useRegex,
    ...(e.name !== undefined ? { name: e.name } : {}),
    ...(e.priority !== undefined ? { priority: e.priority } : {}),
    ...(e.caseSensitive !== null ? { case_sensitive: e.caseSensitive } : {}),
    extensions: {
      ...structuredClone(e.extensions),
      position: codeOf(POSITION_CODES, e.position),
      depth: e.depth,
      role: codeOf(ROLE_CODES, e.role),
      selectiveLogic: codeOf(LOGIC_CODES, e.logic),
      probability: e.probability,
      useProbability: e.useProbability,
      exclude_recursion: e.excludeRecursion,
      prevent_recursion: e.preventRecursion,
      delay_until_recursion: e.delayUntilRecursion,
      scan_depth: e.scanDepth,
      case_sensitive: e.caseSensitive,
      match_whole_words: e.matchWholeWords,
      ...(e.outletName !== undefined ? { outlet_name: e.outletName } : {}),
      ...(e.useRegex ? { [OWN_REGEX_MARKER]: true } : {}),
      ...mapped,
    },
    // Unmapped SillyTavern fields (and unknown card fields) sit at the top level, where
    // importCharacterBook picks them up again; this also restores SillyTavern's own `use_regex`.
    ...topLevel,
  };
}

/**
 * Writes a card `character_book` in the shape SillyTavern exports (its interpreted fields in each
 * entry's `extensions`), so SillyTavern and other V2/V3 readers both understand it.
 */
export function exportCharacterBook(book: LoreBook): Record<string, unknown> {
  const extras = structuredClone(book.extras);
  for (const k of ST_FILE_ONLY_BOOK_FIELDS) delete extras[k];
  return {
    ...extras,
    ...(book.name !== undefined ? { name: book.name } : {}),
    ...(book.description !== undefined ? { description: book.description } : {}),
    ...(book.scanDepth !== undefined ? { scan_depth: book.scanDepth } : {}),
    ...(book.tokenBudget !== undefined ? { token_budget: book.tokenBudget } : {}),
    ...(book.recursiveScanning !== undefined ? { recursive_scanning: book.recursiveScanning } : {}),
    extensions: structuredClone(book.extensions),
    entries: book.entries.map(entryToCard),
  };
}
