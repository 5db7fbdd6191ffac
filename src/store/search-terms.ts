import { createHash } from 'node:crypto';

/**
 * The words recall searches are indexed per conversation: each word is stored and looked for
 * behind its conversation's prefix (`conversationPrefix`), so a word's entries in the index are
 * that conversation's only. How common a word is (recall drops the common ones) is then judged
 * within the conversation, and counting it costs that conversation's entries, never every
 * conversation's: with one shared list per word, an ordinary word ("sister", "birthday") said in
 * a thousand messages anywhere in the database could no longer be recalled by anyone.
 */

/** Hex characters of a conversation's prefix: the first ten of the MD5 of its id (PostgreSQL's `md5()` too). */
export const PREFIX_CHARS = 10;
/** Shorter and longer words are neither indexed nor searched: they say little, or are not words. */
export const MIN_WORD = 3;
export const MAX_WORD = 40;

/**
 * A conversation's prefix. Two conversations may share one (one in a trillion per pair): their
 * words then share index entries, and every search still filters by conversation.
 */
export function conversationPrefix(conversationId: string): string {
  return createHash('md5').update(conversationId).digest('hex').slice(0, PREFIX_CHARS);
}

/** Lower case, letters and digits only, as the full-text indexes split them. */
export function wordsOf(text: string): string[] {
  // Plain ASCII is already in normal form, and most chat lines are.
  const normal = /^[\x00-\x7f]*$/.test(text) ? text : text.normalize('NFC');
  return (normal.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length >= MIN_WORD && w.length <= MAX_WORD);
}

/**
 * What SQLite's full-text index holds for a message: each of its words behind the conversation's
 * prefix. `prefixes` keeps them for a batch, whose messages mostly share a few conversations.
 */
export function indexedText(conversationId: string, content: string, prefixes?: Map<string, string>): string {
  let prefix = prefixes?.get(conversationId);
  if (prefix === undefined) {
    prefix = conversationPrefix(conversationId);
    prefixes?.set(conversationId, prefix);
  }
  let out = '';
  for (const w of wordsOf(content)) out += out ? ` ${prefix}${w}` : prefix + w;
  return out;
}
