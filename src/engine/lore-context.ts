import { LRUCache } from 'lru-cache';
import { expandMacros, macroCharName, readKeptCard } from '../cards/index.js';
import type { Character } from '../core/types.js';
import type { Logger } from '../log.js';
import { countTokens } from '../llm/index.js';
import { describeLore, entryLabel, importCharacterBook, renderLore, ScanWatchdog, type FiredEntry, type LoreActivation, type LoreBook, type LoreMessage } from '../lore/index.js';
import type { Store } from '../store/index.js';
import { ClosingCount } from './closing-count.js';
import type { ContextBlock, ContextProvider, ProviderInput } from './context-blocks.js';
import { MemoryRateLimits, type RateLimits } from './limits.js';

/** Share of the context window all fired entries may use together (SillyTavern's default budget). */
export const LORE_BUDGET_SHARE = 0.25;
/** Most messages scanned, whatever a book asks: keeps a turn's scan O(1) in the history. */
const MAX_SCAN_DEPTH = 100;
/** SillyTavern's author's note sits this deep by default; entries placed "at the author's note" go there. */
const AUTHORS_NOTE_DEPTH = 4;
/** The longest a turn's lorebook scan may hold the process (see `ScanWatchdog`): ten 1000-entry books take about 5 ms. */
export const LORE_SCAN_BUDGET_MS = 100;

/** What `/status` and `?debug=lorebook` show of a conversation's last turn. */
export interface LoreReport {
  /** ISO time of the turn. */
  at: string;
  /** One line per matched entry, fired ones first: what fired and why, or why it was dropped (at most REPORT_MAX_LINES, then a count of the rest). */
  lines: string[];
  fired: Array<{ book: string | null; id: number | string; label: string; tokens: number }>;
  tokensUsed: number;
  budgetExhausted: boolean;
  /** Keys that can never match, worded for the author. */
  warnings: string[];
}

/**
 * Card books by character version: reading and normalizing a whole stored card on every turn
 * would cost more than the activation itself; an edited character has a new `updatedAt`.
 */
export type CardBookCache = LRUCache<string, { book: LoreBook | null; size?: number }>;

/**
 * Parsed books by version (card books by character, attached books by lorebook), bounded by the
 * length of the JSON they came from as well as their number: a character edited again and again
 * leaves a version behind each time.
 */
function bookCache(): CardBookCache {
  return new LRUCache<string, { book: LoreBook | null; size?: number }>({ max: 1000, maxSize: 64_000_000, sizeCalculation: (v) => Math.max(1, v.size ?? 1) });
}

async function cardBookOf(store: Store, character: Character, cardBooks: CardBookCache | undefined): Promise<LoreBook | null> {
  const key = `${character.id}|${character.updatedAt}`;
  const hit = cardBooks?.get(key);
  if (hit) return hit.book;
  const stored = await store.characters.cardOf(character.id);
  const raw = stored ? readKeptCard(stored.json).card.character_book : undefined;
  const book = raw && raw.entries.length ? importCharacterBook(raw) : null;
  cardBooks?.set(key, { book, size: stored?.json.length ?? 1 });
  return book;
}

/** A book a turn scans, with whose it is: the key that owns it, or 'admin' (null: an ownerless preset's). */
export interface OwnedBook {
  book: LoreBook;
  ownerId: string | null;
}

/**
 * The lorebooks that apply to a turn: the character's own card book, then attached books. An
 * attached book is read only when the version listed is one not parsed yet (each may hold a
 * megabyte, and a turn may have ten).
 */
export async function booksFor(store: Store, character: Character, conversationId: string, cardBooks?: CardBookCache): Promise<OwnedBook[]> {
  const books: OwnedBook[] = [];
  const own = character.fromCard ? await cardBookOf(store, character, cardBooks) : null;
  if (own) books.push({ book: own, ownerId: character.ownerId });
  const attached = await store.lorebooks.attachedVersions([
    { kind: 'character', id: character.id },
    { kind: 'conversation', id: conversationId },
  ]);
  for (const listed of attached) {
    let parsed = cardBooks?.get(`lorebook|${listed.id}|${listed.updatedAt}`)?.book;
    if (!parsed) {
      const record = await store.lorebooks.get(listed.id);
      if (!record) continue; // deleted since it was listed
      parsed = JSON.parse(record.book) as LoreBook;
      cardBooks?.set(`lorebook|${record.id}|${record.updatedAt}`, { book: parsed, size: record.book.length });
    }
    books.push({ book: { ...parsed, name: listed.name }, ownerId: listed.ownerId });
  }
  return books;
}

/**
 * Patterns an owner's books may have stall the scan within an hour before its books are left out.
 * Each stall holds the process up to about a quarter of a second before the pattern is refused;
 * an owner writing a new stalling pattern before every turn would do so every turn. Past this in
 * the hour (counted from the first, shared by the instances with Redis: a `ClosingCount`) its
 * books are left out of every scan until the hour is over. Books are blamed one by one (the
 * pattern's own book), so attaching a stalling book beside another owner's never costs that
 * owner its lore.
 */
export const MAX_STRIKES = 3;

/** An owner's strike key: one for every ownerless (preset) book. */
const ownerOf = (b: OwnedBook) => b.ownerId ?? 'preset';

/**
 * Lorebooks as context: each turn the books that apply are scanned over the newest messages
 * (the one being answered included), entries fire the way SillyTavern decides it, and their
 * content goes around the character definition or into the history at a depth. The turn's
 * report is kept for `/status`. Fired lore is context only: never stored, never in the reply.
 */
export function loreContextProvider(
  store: Store,
  opts: { contextTokens: number; now: () => number; log: Logger; scanBudgetMs?: number; limits?: RateLimits },
): ContextProvider {
  const cardBooks = bookCache();
  const watchdog = new ScanWatchdog(opts.scanBudgetMs ?? LORE_SCAN_BUDGET_MS);
  const strikes = new ClosingCount(opts.limits ?? new MemoryRateLimits(), 'lorestall:', MAX_STRIKES, opts.now);
  // A turn's report waits for `settled`, which says which of its blocks the context had room for.
  const pending = new WeakMap<ContextBlock, (leftOut: readonly ContextBlock[]) => Promise<void>>();
  return {
    name: 'lorebooks',
    async settled(blocks, leftOut) {
      await pending.get(blocks[0]!)?.(leftOut);
    },
    async blocks(input: ProviderInput): Promise<ContextBlock[]> {
      const owned = await booksFor(store, input.character, input.conversation.id, cardBooks);
      if (!owned.length) return [];
      const kept = owned.filter((b) => strikes.closedFor(ownerOf(b)) === 0);
      const leftOut = owned.filter((b) => !kept.includes(b)).map((b) => `The lorebook "${b.book.name ?? 'unnamed'}" was left out: its owner's regular expressions stalled the scan ${MAX_STRIKES} times within the hour.`);
      const books = kept.map((b) => b.book);
      const now = new Date(opts.now());
      if (!books.length) {
        await store.lorebooks.saveActivity(input.conversation.id, JSON.stringify(stoppedReport([], now, leftOut)));
        return [];
      }
      const depth = Math.min(MAX_SCAN_DEPTH, Math.max(2, ...books.flatMap((b) => [b.scanDepth ?? 0, ...b.entries.map((e) => e.scanDepth ?? 0)])));
      const rows = await store.messages.newest(input.conversation.id, {
        afterSeq: input.conversation.contextStartSeq,
        limit: depth,
        kinds: ['user', 'assistant', 'proactive'],
      });
      const charName = macroCharName({ name: input.character.name, nickname: input.character.nickname ?? undefined });
      const messages: LoreMessage[] = rows.reverse().map((m) => ({ text: m.content, name: m.role === 'user' ? (m.authorName ?? input.userName) : charName }));
      const scan = watchdog.activate(books, {
        messages,
        settings: { tokenBudget: Math.floor(opts.contextTokens * LORE_BUDGET_SHARE) },
        // Not countRepeatedTokens: its shared cache could be left half-updated by a stopped scan.
        countTokens,
        substitute: (text) => expandMacros(text, { char: charName, user: input.userName, now }),
      });
      for (const r of scan.refused) {
        const owner = ownerOf(kept[r.book]!);
        await strikes.count(owner).catch((err: unknown) => opts.log.warn({ err, owner }, 'could not count a stalled lorebook scan'));
      }
      if (scan.refused.length) {
        const owners = [...new Set(scan.refused.map((r) => kept[r.book]!.ownerId))];
        opts.log.warn({ conversationId: input.conversation.id, owners, refusedPatterns: scan.refused.map((r) => r.pattern) }, 'lorebook patterns stalled the scan and are refused from now on');
      }
      if (!scan.activation) {
        opts.log.warn(
          { conversationId: input.conversation.id, books: books.map((b) => b.name ?? null), refusedPatterns: scan.refused.map((r) => r.pattern), budgetMs: watchdog.budgetMs },
          'lorebook scan stopped: it ran past its time limit, so this turn has no lore',
        );
        const stopped = `The lorebook scan was stopped after ${watchdog.budgetMs} ms, so no entry was used this turn.`;
        await store.lorebooks.saveActivity(input.conversation.id, JSON.stringify(stoppedReport(scan.refused.map((r) => r.pattern), now, [stopped, ...leftOut])));
        return [];
      }
      const result = scan.activation;
      const placed = blocksOf(result);
      const save = (dropped: readonly FiredEntry[]) => store.lorebooks.saveActivity(input.conversation.id, JSON.stringify(reportOf(withoutRoom(result, dropped), books, now, leftOut)));
      if (!placed.length) {
        await save([]);
        return [];
      }
      const finish = (out: readonly ContextBlock[]) => save(placed.filter((p) => out.includes(p.block)).flatMap((p) => p.entries));
      for (const p of placed) pending.set(p.block, finish);
      return placed.map((p) => p.block);
    },
  };
}

/**
 * Lines, fired entries and warnings a report keeps at most. A common key can match thousands of
 * entries a turn (all but the budget's worth dropped); the report is written on every turn and
 * shown by `/status`, so it names the first of them and counts the rest.
 */
export const REPORT_MAX_LINES = 100;
const REPORT_MAX_WARNINGS = 20;

function capped(lines: readonly string[], max: number, rest: (n: number) => string): string[] {
  return lines.length <= max ? [...lines] : [...lines.slice(0, max), rest(lines.length - max)];
}

function reportOf(result: LoreActivation, books: readonly LoreBook[], now: Date, leftOut: string[]): LoreReport {
  const described = describeLore(result);
  // Fired entries first: they are what the model got, and the budget bounds them (but not those without content).
  const firedLines = described.filter((l) => l.startsWith('+'));
  const droppedLines = described.filter((l) => !l.startsWith('+'));
  const room = Math.max(0, REPORT_MAX_LINES - firedLines.length);
  const lines = [
    ...leftOut,
    ...capped(firedLines, REPORT_MAX_LINES, (n) => `+ … and ${n} more entries fired`),
    ...capped(droppedLines, room, (n) => `- … and ${n} more entries matched but were dropped`),
  ];
  return {
    at: now.toISOString(),
    lines,
    fired: result.fired.slice(0, REPORT_MAX_LINES).map((f) => ({ book: books[f.bookIndex]?.name ?? null, id: f.entry.id, label: entryLabel(f.entry), tokens: f.tokens })),
    tokensUsed: result.tokensUsed,
    budgetExhausted: result.budgetExhausted,
    warnings: capped(result.warnings, REPORT_MAX_WARNINGS, (n) => `… and ${n} more keys that never match`),
  };
}

function stoppedReport(refused: readonly string[], now: Date, lines: string[]): LoreReport {
  return {
    at: now.toISOString(),
    lines,
    fired: [],
    tokensUsed: 0,
    budgetExhausted: false,
    warnings: refused.map((p) => `key ${p} never matches: regular expression could take exponential time`),
  };
}

/** The activation as the model got it: fired entries whose block the turn had no room for are left out. */
function withoutRoom(result: LoreActivation, dropped: readonly FiredEntry[]): LoreActivation {
  if (!dropped.length) return result;
  const out = new Set(dropped);
  // One lookup per debug line: a common key can leave thousands of them.
  const outIds = new Set(dropped.map((f) => `${f.bookIndex}|${f.entry.id}`));
  return {
    ...result,
    fired: result.fired.filter((f) => !out.has(f)),
    debug: result.debug.map((d) => (d.status === 'fired' && outIds.has(`${d.bookIndex}|${d.id}`) ? { ...d, status: 'dropped_context' } : d)),
    tokensUsed: result.tokensUsed - dropped.reduce((n, f) => n + f.tokens, 0),
  };
}

/** The fired lore as context blocks, each with the entries it holds (for the report, should it be left out). */
function blocksOf(result: LoreActivation): Array<{ block: ContextBlock; entries: FiredEntry[] }> {
  const lore = renderLore(result);
  const nonEmpty = result.fired.filter((f) => f.content !== '');
  const placed: Array<{ block: ContextBlock; entries: FiredEntry[] }> = [];
  const add = (position: ContextBlock['position'], text: string, holds: (f: FiredEntry) => boolean) => {
    if (text) placed.push({ block: { position, text, order: 0 }, entries: nonEmpty.filter(holds) });
  };
  const at = (...positions: Array<FiredEntry['entry']['position']>) => (f: FiredEntry) => positions.includes(f.entry.position);
  add('before-character', lore.beforeChar, at('before_char'));
  // Our character definition holds the examples, so "before/after the examples" is after it.
  add('after-character', [lore.afterChar, lore.beforeExamples, lore.afterExamples].filter(Boolean).join('\n'), at('after_char', 'em_top', 'em_bottom'));
  for (const d of lore.atDepth) {
    add({ depth: d.depth, role: d.role }, d.text, (f) => f.entry.position === 'at_depth' && f.entry.depth === d.depth && f.entry.role === d.role);
  }
  add({ depth: AUTHORS_NOTE_DEPTH, role: 'system' }, [lore.authorsNoteTop, lore.authorsNoteBottom].filter(Boolean).join('\n'), at('an_top', 'an_bottom'));
  return placed;
}

/** A conversation's last lorebook report, when a turn with lorebooks ran. */
export async function loreReportOf(store: Store, conversationId: string): Promise<LoreReport | undefined> {
  const record = await store.lorebooks.activity(conversationId);
  return record ? (JSON.parse(record.report) as LoreReport) : undefined;
}
