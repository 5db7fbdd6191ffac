import type { LoreLogic } from './model.js';

export interface KeyOptions {
  caseSensitive: boolean;
  matchWholeWords: boolean;
  /** Plain keys are regular expression sources too (V3 `use_regex`). */
  useRegex: boolean;
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

const cache = new Map<string, RegExp | null>();

function cached(id: string, build: () => RegExp | null): RegExp | null {
  let re = cache.get(id);
  if (re === undefined) {
    if (cache.size > 5000) cache.clear();
    re = build();
    cache.set(id, re);
  }
  return re;
}

function tryRegExp(source: string, flags: string): RegExp | null {
  try {
    return new RegExp(source, flags);
  } catch {
    return null;
  }
}

/**
 * A key written `/pattern/flags` (SillyTavern's parseRegexFromString): the delimiter must be
 * escaped inside the pattern. `g` and `y` are dropped because they make `test()` stateful.
 */
export function parseSlashRegex(key: string): RegExp | null {
  return cached(`/${key}`, () => {
    const m = /^\/([\w\W]+?)\/([gimsuy]*)$/.exec(key);
    if (!m) return null;
    const pattern = m[1] ?? '';
    if (/(^|[^\\])\//.test(pattern)) return null;
    return tryRegExp(pattern.replaceAll('\\/', '/'), (m[2] ?? '').replace(/[gy]/g, ''));
  });
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Letters, digits and `_` in any script count as word characters, not just ASCII. */
function wholeWordRegExp(needle: string): RegExp | null {
  return cached(`w${needle}`, () => tryRegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(needle)}(?![\\p{L}\\p{N}_])`, 'u'));
}

/**
 * SillyTavern's matchKeys: a `/regex/` key ignores the case and whole-word settings; a plain key
 * is matched case-insensitively unless case-sensitive, and as a whole word only when it is a
 * single word (a key with spaces is a plain substring).
 */
export function keyMatches(hay: Haystack, rawKey: string, opts: KeyOptions): boolean {
  const key = rawKey.trim();
  if (!key) return false;
  const slash = parseSlashRegex(key);
  if (slash) return slash.test(hay.text);
  if (opts.useRegex) {
    // V3: an invalid pattern is simply not a match.
    const re = cached(`r${opts.caseSensitive ? 's' : 'i'}${key}`, () => tryRegExp(key, opts.caseSensitive ? '' : 'i'));
    return re ? re.test(hay.text) : false;
  }
  const text = opts.caseSensitive ? hay.text : hay.lower;
  const needle = opts.caseSensitive ? key : key.toLowerCase();
  if (!opts.matchWholeWords || /\s/.test(needle)) return text.includes(needle);
  return wholeWordRegExp(needle)?.test(text) ?? false;
}

/** The first key that matches, as written in the entry. */
export function firstMatch(hay: Haystack, keys: readonly string[], opts: KeyOptions): string | undefined {
  return keys.find((k) => keyMatches(hay, k, opts));
}

/**
 * SillyTavern's selective logic over the secondary keys: AND ANY = one matches, AND ALL = all
 * match, NOT ANY = none matches, NOT ALL = at least one does not match.
 */
export function secondaryPasses(logic: LoreLogic, hay: Haystack, keys: readonly string[], opts: KeyOptions): boolean {
  const hit = (k: string) => keyMatches(hay, k, opts);
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
