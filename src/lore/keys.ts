import safeRegex from 'safe-regex2';
import type { LoreLogic } from './model.js';

export interface KeyOptions {
  caseSensitive: boolean;
  matchWholeWords: boolean;
  /** Plain keys are regular expression sources too (V3 `use_regex`). */
  useRegex: boolean;
  /** Where a scan under a watchdog notes the pattern it is testing, and the patterns it refused. */
  watch?: PatternWatch;
  /** Which of the scan's books the keys belong to, to blame the right one when a key stalls. */
  book?: number;
}

/** The pattern a scan is testing right now, to blame if a watchdog stops the scan mid-test. */
export interface RunningPattern {
  id: string;
  re: RegExp;
  text: string;
  /** The index of the book whose key it is, in the books scanned. */
  book: number;
}

/** What a lorebook scan under a watchdog shares with its keys (see `ScanWatchdog`). */
export interface PatternWatch {
  running: RunningPattern | undefined;
  /** Patterns (by id) found to stall a scan: refused like those safe-regex2 refuses. */
  readonly refused: ReadonlySet<string>;
  /** Counts every refusal, so keys compiled before one are compiled again. */
  readonly refusals: number;
}

/**
 * Text being scanned, with its lower-cased form computed once: every key of every entry is
 * checked against the same few buffers each turn.
 */
export class Haystack {
  #lower: string | undefined;
  constructor(readonly text: string) {}
  get lower(): string {
    this.#lower ??= this.text.toLowerCase();
    return this.#lower;
  }
}

/** A pattern that could not be compiled, or that safe-regex2 cannot prove runs in linear time. */
type Compiled = RegExp | 'invalid' | 'unsafe';

/**
 * Compiled patterns by source, emptied past 5000 of them or 4 million characters of sources (a
 * lorebook key can be long). A plain Map, not an LRU: keys are compiled inside a scan that its
 * watchdog may stop anywhere, and a Map is never left half-changed by that.
 */
const cache = new Map<string, Compiled>();
const cacheBounds = { entries: 5000, chars: 4_000_000 };
let cachedChars = 0;

function cached(id: string, build: () => Compiled): Compiled {
  let re = cache.get(id);
  if (re === undefined) {
    if (cache.size >= cacheBounds.entries || cachedChars + id.length > cacheBounds.chars) {
      cache.clear();
      cachedChars = 0;
    }
    re = build();
    cache.set(id, re);
    cachedChars += id.length;
  }
  return re;
}

/**
 * Lorebooks come from authors, and a backtracking pattern such as `(a+)+$` can stall the process
 * for minutes on a long message; such patterns are refused rather than run.
 */
function compileRegExp(source: string, flags: string): Compiled {
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch {
    return 'invalid';
  }
  return safeRegex(re) ? re : 'unsafe';
}

/**
 * A key written `/pattern/flags` (SillyTavern's parseRegexFromString): the delimiter must be
 * escaped inside the pattern. `g` and `y` are dropped because they make `test()` stateful.
 */
export function parseSlashRegex(key: string): { id: string; compiled: Compiled } | null {
  const m = /^\/([\w\W]+?)\/([gimsuy]*)$/.exec(key);
  if (!m) return null;
  const pattern = m[1] ?? '';
  if (/(^|[^\\])\//.test(pattern)) return null;
  const id = `/${key}`;
  const compiled = cached(id, () => compileRegExp(pattern.replaceAll('\\/', '/'), (m[2] ?? '').replace(/[gy]/g, '')));
  // SillyTavern treats a key that does not compile as plain text.
  return compiled === 'invalid' ? null : { id, compiled };
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

function isWordAt(text: string, i: number, backwards: boolean): boolean {
  if (i < 0 || i >= text.length) return false;
  const code = text.charCodeAt(i);
  // Read a whole surrogate pair, so letters outside the BMP count as letters.
  if (backwards && code >= 0xdc00 && code <= 0xdfff && i > 0) return WORD_CHAR.test(text.slice(i - 1, i + 1));
  if (!backwards && code >= 0xd800 && code <= 0xdbff) return WORD_CHAR.test(text.slice(i, i + 2));
  return WORD_CHAR.test(text[i] ?? '');
}

/**
 * `needle` occurs with no letter, digit or `_` (in any script, not just ASCII) right before or
 * after it. Uses indexOf rather than a regex: books with hundreds of entries are scanned
 * against long recursion buffers several times a turn.
 */
function containsWholeWord(text: string, needle: string): boolean {
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
    if (!isWordAt(text, i - 1, true) && !isWordAt(text, i + needle.length, false)) return true;
  }
  return false;
}

/** A key ready to test against haystacks; built once per activation, used every pass. */
export interface CompiledKey {
  /** The key as written (after macro expansion), for debug output. */
  key: string;
  test: (hay: Haystack) => boolean;
  /** Why this key can never match, for the author. */
  problem?: 'invalid regular expression' | 'regular expression could take exponential time';
}

const never = () => false;

function regexKey(key: string, id: string, compiled: Compiled, watch: PatternWatch | undefined, book = 0): CompiledKey {
  if (compiled === 'invalid') return { key, test: never, problem: 'invalid regular expression' };
  if (compiled === 'unsafe' || watch?.refused.has(id)) return { key, test: never, problem: 'regular expression could take exponential time' };
  if (!watch) return { key, test: (hay) => compiled.test(hay.text) };
  return {
    key,
    test: (hay) => {
      // Left set when a watchdog stops the scan in here: a stopped script runs no further code.
      watch.running = { id, re: compiled, text: hay.text, book };
      const hit = compiled.test(hay.text);
      watch.running = undefined;
      return hit;
    },
  };
}

/**
 * SillyTavern's matchKeys: a `/regex/` key ignores the case and whole-word settings; a plain key
 * is matched case-insensitively unless case-sensitive, and as a whole word only when it is a
 * single word (a key with spaces is a plain substring). Empty keys match nothing.
 */
export function compileKey(rawKey: string, opts: KeyOptions): CompiledKey | undefined {
  const key = rawKey.trim();
  if (!key) return undefined;
  const slash = parseSlashRegex(key);
  if (slash) return regexKey(key, slash.id, slash.compiled, opts.watch, opts.book);
  if (opts.useRegex) {
    // V3: an invalid pattern is simply not a match.
    const flags = opts.caseSensitive ? '' : 'i';
    const id = `${flags}:${key}`;
    return regexKey(key, id, cached(id, () => compileRegExp(key, flags)), opts.watch, opts.book);
  }
  if (opts.caseSensitive) {
    return { key, test: !opts.matchWholeWords || /\s/.test(key) ? (hay) => hay.text.includes(key) : (hay) => containsWholeWord(hay.text, key) };
  }
  const needle = key.toLowerCase();
  return { key, test: !opts.matchWholeWords || /\s/.test(needle) ? (hay) => hay.lower.includes(needle) : (hay) => containsWholeWord(hay.lower, needle) };
}

export function compileKeys(keys: readonly string[], opts: KeyOptions): CompiledKey[] {
  return keys.map((k) => compileKey(k, opts)).filter((k): k is CompiledKey => k !== undefined);
}

/**
 * SillyTavern's selective logic over the secondary keys: AND ANY = one matches, AND ALL = all
 * match, NOT ANY = none matches, NOT ALL = at least one does not match.
 */
export function secondaryPasses(logic: LoreLogic, hay: Haystack, keys: readonly CompiledKey[]): boolean {
  const hit = (k: CompiledKey) => k.test(hay);
  switch (logic) {
    case 'and_any':
      return keys.some(hit);
    case 'and_all':
      return keys.every(hit);
    case 'not_any':
      return !keys.some(hit);
    case 'not_all':
      return !keys.every(hit);
  }
}
