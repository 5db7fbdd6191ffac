import { ValidationError } from '../core/errors.js';
import { compileKeys, secondaryPasses, type CompiledKey, type PatternWatch } from './keys.js';
import { keyOptions, preparedEntries } from './prepared.js';
import { entryLabel, type LoreBook, type LoreEntry } from './model.js';
import { ScanBuffer, type LoreMessage } from './scan-buffer.js';

export type { LoreMessage } from './scan-buffer.js';

/** Activation defaults; each is SillyTavern's default unless noted. */
export interface LoreSettings {
  /** Newest messages scanned for keys (SillyTavern: 2). Books and entries may override. */
  scanDepth: number;
  /** Tokens all fired entries may use together; undefined = no cap (SillyTavern uses 25% of context). */
  tokenBudget: number | undefined;
  /** Whether fired entries' content is scanned for more keys, for books that do not say. */
  recursive: boolean;
  /** Most scan passes in total; 0 = no cap, 1 = no recursion (SillyTavern's "Max Recursion Steps"). */
  maxRecursionSteps: number;
  caseSensitive: boolean;
  /** Single-word keys match whole words only (SillyTavern: on). */
  matchWholeWords: boolean;
  /** Scan "name: text" for messages that carry a name (SillyTavern: on). */
  includeNames: boolean;
}

export const DEFAULT_LORE_SETTINGS: Readonly<LoreSettings> = {
  scanDepth: 2,
  tokenBudget: undefined,
  recursive: true,
  maxRecursionSteps: 0,
  caseSensitive: false,
  matchWholeWords: true,
  includeNames: true,
};

export interface ActivateInput {
  /** Recent chat messages, oldest first, newest last. */
  messages: readonly LoreMessage[];
  /** Text scanned at every depth besides the chat (SillyTavern scans e.g. the author's note). */
  scanText?: string | readonly string[];
  settings?: Partial<LoreSettings>;
  countTokens: (text: string) => number;
  /** In [0, 1); rolled once per probability check, in activation order. Defaults to Math.random. */
  random?: () => number;
  /**
   * Macro expansion (e.g. `{{char}}`, `{{user}}`) applied to keys and content before use, as
   * SillyTavern runs substituteParams on both. Text holding neither `{{` nor `<` is taken to
   * expand to itself: such keys are compiled once per book, not every scan.
   */
  substitute?: (text: string) => string;
  /** Set by `ScanWatchdog.activate`: where keys note the pattern they test, and which it refused. */
  watch?: PatternWatch;
}

export type LoreTrigger =
  | { kind: 'constant' }
  /** A key found in the chat or the extra scan text. */
  | { kind: 'key'; key: string }
  /** A key found only in the content of entries that fired earlier. */
  | { kind: 'recursion'; key: string };

export interface FiredEntry {
  entry: LoreEntry;
  /** The content as it goes into the prompt (after `substitute`). */
  content: string;
  bookIndex: number;
  trigger: LoreTrigger;
  /** 1 = the first scan; higher = a recursion pass. */
  pass: number;
  tokens: number;
}

/** `dropped_context`: fired, but the turn left its block out for want of room in the context window. */
export type LoreDebugStatus = 'fired' | 'dropped_budget' | 'dropped_book_budget' | 'dropped_probability' | 'dropped_context';

/** One line of "what happened" per entry that matched this turn, in activation order. */
export interface LoreDebugEntry {
  bookIndex: number;
  bookName: string | undefined;
  id: number | string;
  label: string;
  status: LoreDebugStatus;
  trigger: LoreTrigger;
  pass: number;
}

export interface LoreActivation {
  /** Entries going into the prompt, in insertion order (lower `order` first). */
  fired: FiredEntry[];
  debug: LoreDebugEntry[];
  tokensUsed: number;
  passes: number;
  budgetExhausted: boolean;
  /** Keys that can never match (bad or unsafe regular expressions), worded for the author. */
  warnings: string[];
}

interface Candidate {
  entry: LoreEntry;
  book: LoreBook;
  bookIndex: number;
  entryIndex: number;
  delayLevel: number;
  recursive: boolean;
  scanDepth: number;
  keys: CompiledKey[];
  secondaryKeys: CompiledKey[];
  /** The content after `substitute`, expanded only once the entry matches: most never do. */
  expanded: string | undefined;
  /** Fired or dropped: looked at no more this scan. */
  settled: boolean;
  /** What earlier passes learned about its primary keys; none before its first look. */
  seen: ScanState | undefined;
}

function resolveSettings(partial: Partial<LoreSettings> | undefined): LoreSettings {
  const s = { ...DEFAULT_LORE_SETTINGS, ...partial };
  for (const k of ['scanDepth', 'maxRecursionSteps'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 0) throw new ValidationError(`lore settings ${k} must be a whole number of at least 0`, { field: k });
  }
  if (s.tokenBudget !== undefined && !(s.tokenBudget >= 0)) {
    throw new ValidationError('lore settings tokenBudget must be a number of at least 0', { field: 'tokenBudget' });
  }
  return s;
}

function delayLevel(entry: LoreEntry): number {
  const d = entry.delayUntilRecursion;
  return d === true ? 1 : d === false ? 0 : d;
}

/**
 * All enabled entries of all books, in activation priority: constants first, then higher
 * `order`, then earlier book, then earlier entry (SillyTavern's docs on the budget: "Constant
 * entries will be inserted first. Then entries with larger order numbers"). Books are merged
 * like SillyTavern's default "sorted evenly" strategy. Each book's entries come compiled and in
 * order from `preparedEntries`, so the sort only merges the books' runs.
 */
function candidates(books: readonly LoreBook[], s: LoreSettings, sub: (text: string) => string, watch: PatternWatch | undefined): Candidate[] {
  const out: Candidate[] = [];
  books.forEach((book, bookIndex) => {
    const recursive = book.recursiveScanning ?? s.recursive;
    const compile = (entry: LoreEntry, keys: readonly string[]) => compileKeys(keys.map(sub), keyOptions(entry, s, watch, bookIndex));
    for (const p of preparedEntries(book.entries, s, watch, bookIndex)) {
      const { entry } = p;
      out.push({
        entry,
        book,
        bookIndex,
        entryIndex: p.entryIndex,
        delayLevel: delayLevel(entry),
        recursive,
        scanDepth: entry.scanDepth ?? book.scanDepth ?? s.scanDepth,
        keys: p.keys ?? compile(entry, entry.keys),
        secondaryKeys: p.secondaryKeys ?? compile(entry, entry.secondaryKeys),
        expanded: undefined,
        settled: false,
        seen: undefined,
      });
    }
  });
  return out.sort(
    (a, b) =>
      Number(b.entry.constant) - Number(a.entry.constant) ||
      b.entry.order - a.entry.order ||
      a.bookIndex - b.bookIndex ||
      a.entryIndex - b.entryIndex,
  );
}

function keyWarnings(all: readonly Candidate[]): string[] {
  const out: string[] = [];
  for (const c of all) {
    for (const k of [...c.keys, ...c.secondaryKeys]) {
      if (k.problem) out.push(`${c.book.name ?? `book ${c.bookIndex + 1}`} #${c.entry.id} "${entryLabel(c.entry)}": key "${k.key}" never matches: ${k.problem}`);
    }
  }
  return out;
}

/** What earlier passes learned about an entry's primary keys. */
interface ScanState {
  /** Recursion parts already searched for the primary keys. */
  seenParts: number;
  /** The primary key found, when only the secondary keys held the entry back. */
  primary: CompiledKey | undefined;
}

/**
 * Whether the entry matches in this pass, and why (SillyTavern's checkWorldInfo loop body).
 * Text only grows between passes, so primary keys are searched only in recursion text added
 * since the entry was last looked at; secondary keys are always checked against everything.
 */
function match(c: Candidate, buffer: ScanBuffer, recursionPass: boolean): LoreTrigger | undefined {
  if (c.entry.constant) return { kind: 'constant' };
  let seen = c.seen;
  if (!seen) {
    const hay = buffer.get(c.scanDepth, recursionPass);
    seen = c.seen = { seenParts: 0, primary: c.keys.find((k) => k.test(hay)) };
  } else if (!seen.primary && recursionPass) {
    const fresh = buffer.recursionSince(seen.seenParts);
    seen.primary = c.keys.find((k) => k.test(fresh));
  }
  seen.seenParts = buffer.recursionParts;
  const key = seen.primary;
  if (key === undefined) return undefined;
  if (c.entry.selective && c.secondaryKeys.length && !secondaryPasses(c.entry.logic, buffer.get(c.scanDepth, recursionPass), c.secondaryKeys)) {
    return undefined;
  }
  const inChat = !recursionPass || key.test(buffer.get(c.scanDepth, false));
  return { kind: inChat ? 'key' : 'recursion', key: key.key };
}

/**
 * Compile the books' keys ahead of a scan, as `activate` would with the same settings and watch,
 * so a watched scan of a book's new version spends its time limit scanning, not compiling (ten
 * thousand-entry books take some 45 ms to compile once). Compiling is bounded by the books' size
 * like parsing them is, and runs no pattern, so it needs no watchdog.
 */
export function prepareBooks(books: readonly LoreBook[], settings: Partial<LoreSettings> | undefined, watch: PatternWatch | undefined): void {
  const s = resolveSettings(settings);
  books.forEach((book, bookIndex) => preparedEntries(book.entries, s, watch, bookIndex));
}

/**
 * Which lorebook entries fire this turn. Scans the recent messages for keys, then (recursion)
 * the content of what fired, pass after pass, admitting matches in priority order until the
 * token budget runs out. Pure: the same input and `random` give the same result.
 */
export function activate(books: readonly LoreBook[], input: ActivateInput): LoreActivation {
  const s = resolveSettings(input.settings);
  const random = input.random ?? Math.random;
  const extra = input.scanText === undefined ? [] : typeof input.scanText === 'string' ? [input.scanText] : [...input.scanText];
  const buffer = new ScanBuffer(input.messages, extra, s.includeNames);
  const sub = input.substitute ?? ((t: string) => t);
  const all = candidates(books, s, sub, input.watch);

  const fired: (FiredEntry & { entryIndex: number })[] = [];
  const debug: LoreDebugEntry[] = [];
  const contentOf = (c: Candidate) => (c.expanded ??= sub(c.entry.content));
  const bookUsed = books.map(() => 0);
  const bookFull = books.map(() => false);
  let used = 0;
  let exhausted = false;

  const budget = s.tokenBudget ?? Infinity;
  const record = (c: Candidate, status: LoreDebugStatus, trigger: LoreTrigger, pass: number) => {
    c.settled = true;
    debug.push({ bookIndex: c.bookIndex, bookName: c.book.name, id: c.entry.id, label: entryLabel(c.entry), status, trigger, pass });
  };

  /** SillyTavern's probability check, then its budget check, for one pass's matches. */
  const admit = (matches: { c: Candidate; trigger: LoreTrigger }[], pass: number): Candidate[] => {
    const admitted: Candidate[] = [];
    for (const { c, trigger } of matches) {
      if (exhausted) {
        record(c, 'dropped_budget', trigger, pass);
        continue;
      }
      const { entry } = c;
      if (entry.useProbability && entry.probability < 100 && random() * 100 >= entry.probability) {
        record(c, 'dropped_probability', trigger, pass);
        continue;
      }
      const content = contentOf(c);
      const tokens = content ? input.countTokens(content) : 0;
      if (used + tokens > budget) {
        exhausted = true;
        record(c, 'dropped_budget', trigger, pass);
        continue;
      }
      const bookBudget = c.book.tokenBudget ?? Infinity;
      if (bookFull[c.bookIndex] || (bookUsed[c.bookIndex] ?? 0) + tokens > bookBudget) {
        bookFull[c.bookIndex] = true;
        record(c, 'dropped_book_budget', trigger, pass);
        continue;
      }
      used += tokens;
      bookUsed[c.bookIndex] = (bookUsed[c.bookIndex] ?? 0) + tokens;
      record(c, 'fired', trigger, pass);
      fired.push({ entry, content, bookIndex: c.bookIndex, entryIndex: c.entryIndex, trigger, pass, tokens });
      admitted.push(c);
    }
    return admitted;
  };

  // SillyTavern's "delay until recursion" levels: the lowest level may fire in any recursion
  // pass; when recursion finds nothing more, the next level gets a pass of its own.
  const levels = [...new Set(all.filter((c) => c.delayLevel > 0 && c.recursive).map((c) => c.delayLevel))].sort((a, b) => a - b);
  let level = levels.shift() ?? 0;
  let recursionPass = false;
  let passes = 0;
  // Every pass after the first admits a new entry or opens a new level, so this bound is never
  // the one that stops a correct scan; it keeps a future bug from spinning forever.
  const maxPasses = Math.min(s.maxRecursionSteps || Infinity, all.length + levels.length + 1);
  while (passes < maxPasses) {
    passes++;
    const matches: { c: Candidate; trigger: LoreTrigger }[] = [];
    for (const c of all) {
      if (c.settled) continue;
      if (!recursionPass && c.delayLevel > 0) continue;
      if (recursionPass && (!c.recursive || c.entry.excludeRecursion || c.delayLevel > level)) continue;
      const trigger = match(c, buffer, recursionPass);
      if (trigger) matches.push({ c, trigger });
    }
    const admitted = admit(matches, passes);
    if (exhausted) break;
    const feed = admitted.filter((c) => c.recursive && !c.entry.preventRecursion && contentOf(c));
    if (feed.length) {
      buffer.addRecursion(feed.map(contentOf));
    } else if (levels.length) {
      level = levels.shift() ?? level;
    } else {
      break;
    }
    recursionPass = true;
  }

  fired.sort((a, b) => a.entry.order - b.entry.order || a.bookIndex - b.bookIndex || a.entryIndex - b.entryIndex);
  return {
    fired: fired.map(({ entryIndex: _, ...f }) => f),
    debug,
    tokensUsed: used,
    passes,
    budgetExhausted: exhausted,
    warnings: keyWarnings(all),
  };
}
