import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { O200K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';
import { LRUCache } from 'lru-cache';
import { BpeCounter } from './bpe-counter.js';

/**
 * Token counts with a real BPE tokenizer (o200k, the GPT-4o family's). Other models tokenize a
 * little differently; the context budget keeps a margin for that (see engine/context.ts).
 *
 * The ranks and the pre-tokenizing pattern are gpt-tokenizer's (its `.tiktoken` file); the
 * counting is `BpeCounter`'s, which keeps the table outside the JavaScript heap (see there why).
 */
let counter: BpeCounter | undefined;

function tokenizer(): BpeCounter {
  counter ??= BpeCounter.fromTiktoken(readFileSync(tiktokenFile('o200k_base')), O200K_TOKEN_SPLIT_REGEX);
  return counter;
}

function tiktokenFile(name: string): string {
  return createRequire(import.meta.url).resolve(`gpt-tokenizer/data/${name}.tiktoken`);
}

export function countTokens(text: string): number {
  if (!text) return 0;
  // Special tokens (`<|endoftext|>`…) a user types are counted as the plain text they are.
  return tokenizer().count(text);
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
