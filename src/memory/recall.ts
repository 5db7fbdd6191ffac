import type { Conversation, StoredMessage } from '../core/types.js';
import { TOKENS_PER_MESSAGE } from '../llm/index.js';
import { searchWords, type RecalledLine, type Store } from '../store/index.js';

const PAGE = 64;
const MAX_LINES = 5;

/**
 * The seq below which messages are out of the context window: history is read newest first, as
 * the context builder reads it, until `budget` tokens are used. O(window), never O(history).
 * Messages hidden by `/clear` are out of the window already.
 */
export async function windowStart(store: Store, conv: Conversation, current: StoredMessage | undefined, budget: number): Promise<number> {
  let used = current ? current.tokenCount + TOKENS_PER_MESSAGE : 0;
  let beforeSeq = current?.seq;
  let oldest = current?.seq ?? Number.MAX_SAFE_INTEGER;
  for (;;) {
    const rows = await store.messages.newestTokens(conv.id, { afterSeq: conv.contextStartSeq, beforeSeq, limit: PAGE });
    for (const r of rows) {
      used += r.tokenCount + TOKENS_PER_MESSAGE;
      if (used > budget) return oldest;
      oldest = r.seq;
      beforeSeq = r.seq;
    }
    if (rows.length < PAGE) return Math.min(oldest, conv.contextStartSeq + 1);
  }
}

/**
 * Older lines of this conversation that share rare words with the message being answered, best
 * first: only lines of this character's turns, only lines out of the context window (the model sees the rest anyway), above the
 * owner's recall floor (`/memory clear`), never the sources of forgotten facts.
 */
export async function recallLines(
  store: Store,
  q: { conv: Conversation; characterId: string; current: StoredMessage; floorSeq: number; beforeSeq: number },
): Promise<RecalledLine[]> {
  const words = searchWords(q.current.content);
  if (!words.length || q.beforeSeq <= q.floorSeq + 1) return [];
  return store.recall.search({ conversationId: q.conv.id, characterId: q.characterId, words, afterSeq: q.floorSeq, beforeSeq: q.beforeSeq, limit: MAX_LINES });
}
