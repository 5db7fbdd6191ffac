import { z } from 'zod';
import { codeOf, ENTRY_DEFAULTS, LOGIC_CODES, POSITION_CODES, ROLE_CODES, type LoreBook, type LoreEntry } from './model.js';
import { pickRest } from './extension-names.js';
import { field, parseOrThrow } from './validate.js';

/**
 * SillyTavern's world-info file: `{entries: {"<uid>": {...}}}` with the entry fields of
 * newWorldInfoEntryDefinition. Unknown fields pass through (loose objects) into `extras`.
 */
const stEntrySchema = z.looseObject({
  uid: z.union([field.int(0), field.text()], { error: 'must be a whole number or a string' }).optional(),
  key: field.strings().optional(),
  keysecondary: field.strings().optional(),
  comment: field.text().nullable().optional(),
  content: field.text().nullable().optional(),
  constant: field.bool().optional(),
  selective: field.bool().optional(),
  selectiveLogic: field.int(0, 3).optional(),
  order: field.number(-1e9, 1e9).optional(),
  position: field.int(0, 7).optional(),
  disable: field.bool().optional(),
  excludeRecursion: field.bool().optional(),
  preventRecursion: field.bool().optional(),
  delayUntilRecursion: z.union([field.bool(), field.int(0)], { error: 'must be true, false or a whole number' }).optional(),
  probability: field.number(0, 100).nullable().optional(),
  useProbability: field.bool().optional(),
  depth: field.int(0).optional(),
  role: field.int(0, 2).nullable().optional(),
  scanDepth: field.int(0).nullable().optional(),
  caseSensitive: field.bool().nullable().optional(),
  matchWholeWords: field.bool().nullable().optional(),
  outletName: field.text().optional(),
  // Card fields SillyTavern has no slot for; written by our exporter so card → ST → card keeps them.
  name: field.text().optional(),
  priority: field.number(-1e9, 1e9).optional(),
  useRegex: field.bool().optional(),
  extensions: field.record().optional(),
});

const stBookSchema = z.looseObject({
  entries: z.record(z.string(), stEntrySchema, { error: 'must be an object of entries keyed by uid' }),
  name: field.text().optional(),
  description: field.text().optional(),
  scan_depth: field.int(0).optional(),
  token_budget: field.int(0).optional(),
  recursive_scanning: field.bool().optional(),
  extensions: field.record().optional(),
});

type StEntry = z.output<typeof stEntrySchema>;

const ENTRY_FIELDS = new Set(Object.keys(stEntrySchema.shape));
const BOOK_FIELDS = new Set(['entries', 'name', 'description', 'scan_depth', 'token_budget', 'recursive_scanning', 'extensions']);

function entryFromSt(raw: StEntry, key: string): LoreEntry {
  const uid = raw.uid ?? (/^\d+$/.test(key) ? Number(key) : key);
  const position = POSITION_CODES[raw.position ?? 0] ?? 'before_char';
  return {
    id: uid,
    name: raw.name,
    comment: raw.comment ?? '',
    keys: raw.key ?? [],
    secondaryKeys: raw.keysecondary ?? [],
    content: raw.content ?? '',
    enabled: !(raw.disable ?? false),
    constant: raw.constant ?? false,
    selective: raw.selective ?? true,
    logic: LOGIC_CODES[raw.selectiveLogic ?? 0] ?? 'and_any',
    order: raw.order ?? ENTRY_DEFAULTS.order,
    priority: raw.priority,
    position,
    depth: raw.depth ?? ENTRY_DEFAULTS.depth,
    role: ROLE_CODES[raw.role ?? 0] ?? 'system',
    outletName: raw.outletName,
    caseSensitive: raw.caseSensitive ?? null,
    matchWholeWords: raw.matchWholeWords ?? null,
    useRegex: raw.useRegex ?? false,
    scanDepth: raw.scanDepth ?? null,
    excludeRecursion: raw.excludeRecursion ?? false,
    preventRecursion: raw.preventRecursion ?? false,
    delayUntilRecursion: raw.delayUntilRecursion ?? false,
    probability: raw.probability ?? ENTRY_DEFAULTS.probability,
    useProbability: raw.useProbability ?? true,
    extras: pickRest(raw, ENTRY_FIELDS),
    extensions: raw.extensions ?? {},
  };
}

/**
 * Reads a SillyTavern world-info JSON file. `name` is the file's name (SillyTavern keeps the
 * book's name only as its file name). Throws a ValidationError naming the first bad field.
 */
export function importWorldInfo(json: unknown, opts: { name?: string } = {}): LoreBook {
  const raw = parseOrThrow(stBookSchema, json, 'world info');
  return {
    name: opts.name ?? raw.name,
    description: raw.description,
    scanDepth: raw.scan_depth,
    tokenBudget: raw.token_budget,
    recursiveScanning: raw.recursive_scanning,
    entries: Object.entries(raw.entries).map(([key, e]) => entryFromSt(e, key)),
    extras: pickRest(raw, BOOK_FIELDS),
    extensions: raw.extensions ?? {},
  };
}

function entryToSt(e: LoreEntry): Record<string, unknown> {
  return {
    uid: e.id,
    key: [...e.keys],
    keysecondary: [...e.secondaryKeys],
    comment: e.comment,
    content: e.content,
    constant: e.constant,
    selective: e.selective,
    selectiveLogic: codeOf(LOGIC_CODES, e.logic),
    order: e.order,
    position: codeOf(POSITION_CODES, e.position),
    disable: !e.enabled,
    excludeRecursion: e.excludeRecursion,
    preventRecursion: e.preventRecursion,
    delayUntilRecursion: e.delayUntilRecursion,
    probability: e.probability,
    useProbability: e.useProbability,
    depth: e.depth,
    scanDepth: e.scanDepth,
    caseSensitive: e.caseSensitive,
    matchWholeWords: e.matchWholeWords,
    role: codeOf(ROLE_CODES, e.role),
    ...(e.outletName !== undefined ? { outletName: e.outletName } : {}),
    ...(e.name !== undefined ? { name: e.name } : {}),
    ...(e.priority !== undefined ? { priority: e.priority } : {}),
    ...(e.useRegex ? { useRegex: true } : {}),
    ...structuredClone(e.extras),
    ...(Object.keys(e.extensions).length ? { extensions: structuredClone(e.extensions) } : {}),
  };
}

/**
 * Writes a SillyTavern world-info JSON file. Book-level card fields (description, scan depth,
 * budget, recursion, extensions) are written only when set, under their card names, so a card
 * book survives a trip through a world-info file.
 */
export function exportWorldInfo(book: LoreBook): Record<string, unknown> {
  const entries: Record<string, unknown> = {};
  for (const e of book.entries) entries[String(e.id)] = entryToSt(e);
  return {
    ...structuredClone(book.extras),
    ...(book.name !== undefined ? { name: book.name } : {}),
    ...(book.description !== undefined ? { description: book.description } : {}),
    ...(book.scanDepth !== undefined ? { scan_depth: book.scanDepth } : {}),
    ...(book.tokenBudget !== undefined ? { token_budget: book.tokenBudget } : {}),
    ...(book.recursiveScanning !== undefined ? { recursive_scanning: book.recursiveScanning } : {}),
    ...(Object.keys(book.extensions).length ? { extensions: structuredClone(book.extensions) } : {}),
    entries,
  };
}
