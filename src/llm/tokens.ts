import { countTokens as count } from 'gpt-tokenizer';

/**
 * Token counts with a real BPE tokenizer (o200k, the GPT-4o family's). Other models tokenize a
 * little differently; the context budget keeps a margin for that (see engine/context.ts).
 */
export function countTokens(text: string): number {
  if (!text) return 0;
  return count(text);
}

/** OpenAI's documented per-message overhead (role and separators), so budgets add up. */
export const TOKENS_PER_MESSAGE = 4;

/** A rough flat cost for an image part in the budget (OpenAI's low-detail image cost). */
export const TOKENS_PER_IMAGE = 85;
