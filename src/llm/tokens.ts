import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isUtf8 } from 'node:buffer';
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';
import { LRUCache } from 'lru-cache';

/**
 * Token counts with a real BPE tokenizer (o200k, the GPT-4o family's). Other models tokenize a
 * little differently; the context budget keeps a margin for that (see engine/context.ts).
 *
 * The ranks come from the `.tiktoken` file gpt-tokenizer ships rather than from its generated
 * module: that module is 2.4 MB of array literals, and compiling it left the process ~15 MB
 * larger for good (resident size after import 107 MiB against 93 MiB here, heap 23 against 18 MB).
 * The merge cache (100,000 entries by default) is kept small: most words are one token and
 * never reach it, and a large cache only grows with every distinct word users type.
 */
const MERGE_CACHE_SIZE = 10_000;

let encoding: ReturnType<typeof GptEncoding.getEncodingApi> | undefined;

function tokenizer(): ReturnType<typeof GptEncoding.getEncodingApi> {
  if (!encoding) {
    encoding = GptEncoding.getEncodingApi('o200k_base', () => ranksFromTiktoken(readFileSync(tiktokenFile('o200k_base'), 'latin1')));
    encoding.setMergeCacheSize(MERGE_CACHE_SIZE);
  }
  return encoding;
}

function tiktokenFile(name: string): string {
  return createRequire(import.meta.url).resolve(`gpt-tokenizer/data/${name}.tiktoken`);
}

/**
 * `base64-token rank` per line → the rank table gpt-tokenizer's generated modules hold: the text
 * for tokens that are valid UTF-8, the bytes for the rest (partial characters).
 */
export function ranksFromTiktoken(text: string): Array<string | number[]> {
  const ranks: Array<string | number[]> = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const space = text.indexOf(' ', start);
    if (space > start && space < end) {
      const bytes = Buffer.from(text.slice(start, space), 'base64');
      // A leading byte-order mark stays bytes, as in gpt-tokenizer's own table (a decoder drops it).
      const asText = isUtf8(bytes) && !(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf);
      ranks[Number(text.slice(space + 1, end))] = asText ? bytes.toString('utf8') : Array.from(bytes);
    }
    start = end + 1;
  }
  return ranks;
}

/** Special tokens (`<|endoftext|>`…) a user types are counted as the plain text they are. */
const ORDINARY = { disallowedSpecial: new Set<string>() };

export function countTokens(text: string): number {
  if (!text) return 0;
  return tokenizer().countTokens(text, ORDINARY);
}

/** Counts kept for texts that come back turn after turn; bounded by their length (~2 MB). */
const repeated = new LRUCache<string, number>({ maxSize: 1_000_000, sizeCalculation: (_n, text) => Math.max(1, text.length) });
const MAX_REPEATED_LENGTH = 20_000;

/**
 * `countTokens` for texts a chat sends to the model again on every turn — memory's facts and
 * summary, lorebook entries, recalled lines, the blocks context providers add — counted once
 * while they stay the same. A message's own text is counted once anyway: use `countTokens`.
 */
export function countRepeatedTokens(text: string): number {
  if (!text || text.length > MAX_REPEATED_LENGTH) return countTokens(text);
  let n = repeated.get(text);
  if (n === undefined) repeated.set(text, (n = countTokens(text)));
  return n;
}

/** Loads the tokenizer now (at start) rather than in the first turn. */
export function loadTokenizer(): void {
  tokenizer();
}

/** OpenAI's documented per-message overhead (role and separators), so budgets add up. */
export const TOKENS_PER_MESSAGE = 4;

/** A rough flat cost for an image part in the budget (OpenAI's low-detail image cost). */
export const TOKENS_PER_IMAGE = 85;
