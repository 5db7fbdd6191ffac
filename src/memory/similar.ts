import type { Conversation, StoredMessage } from '../core/types.js';
import type { Embedder } from '../llm/index.js';
import type { Logger } from '../log.js';
import { norm } from '../store/embeddings.js';
import type { RecalledLine, Store } from '../store/index.js';

/** Vectors compared per recall at most: the newest of the conversation (bounded cost). */
export const MAX_COMPARED = 2000;
const MAX_LINES = 3;
const MIN_SIMILARITY = 0.3;
const EMBED_TIMEOUT_MS = 3000;

/**
 * The dot product over the shorter of the two (vectors of one model have one length), four
 * running sums at a time: a third less time over two thousand 1536-dimension vectors a turn.
 */
function dot(a: Float32Array, b: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + s2 + s3;
}

/**
 * Recall by meaning (EMBEDDINGS_MODEL): the message being answered is embedded (one call, cut
 * off after a few seconds) and compared with the newest MAX_COMPARED stored vectors of the
 * conversation out of the window; the closest few above a floor are returned. A failing
 * embeddings server leaves recall to full-text search.
 */
export async function similarLines(
  deps: { store: Store; embedder: Embedder; log: Logger },
  q: { conv: Conversation; characterId: string; current: StoredMessage; floorSeq: number; beforeSeq: number },
): Promise<RecalledLine[]> {
  if (q.beforeSeq <= q.floorSeq + 1) return [];
  const signal = AbortSignal.timeout(EMBED_TIMEOUT_MS);
  let query: number[] | undefined;
  try {
    [query] = await deps.embedder.embed([q.current.content], signal);
  } catch (err) {
    deps.log.warn({ err, conversationId: q.conv.id }, 'memory: could not embed the message; recalling by words only');
    return [];
  }
  if (!query) return [];
  const stored = await deps.store.embeddings.newest({ conversationId: q.conv.id, model: deps.embedder.model, afterSeq: q.floorSeq, beforeSeq: q.beforeSeq, limit: MAX_COMPARED });
  const q32 = Float32Array.from(query);
  const qNorm = norm(q32);
  const best = stored
    .map((e) => ({ seq: e.seq, score: qNorm && e.norm ? dot(q32, e.vector) / (qNorm * e.norm) : 0 }))
    .filter((e) => e.score >= MIN_SIMILARITY)
    .sort((a, b) => b.score - a.score)
    .slice(0, MAX_LINES);
  const lines = await deps.store.embeddings.lines(best.map((b) => b.seq), q.characterId);
  const rank = new Map(best.map((b, i) => [b.seq, i]));
  return lines.sort((a, b) => rank.get(a.seq)! - rank.get(b.seq)!);
}

/** Embed messages extraction reads, so later recall can compare them; failures are logged and skipped. */
export async function embedMessages(deps: { store: Store; embedder: Embedder; log: Logger }, conversationId: string, messages: StoredMessage[]): Promise<void> {
  const texts = messages.filter((m) => m.content.trim());
  if (!texts.length) return;
  try {
    const vectors = await deps.embedder.embed(texts.map((m) => m.content.slice(0, 4000)));
    await deps.store.embeddings.put(texts.flatMap((m, i) => (vectors[i] ? [{ seq: m.seq, conversationId, model: deps.embedder.model, vector: vectors[i]! }] : [])));
  } catch (err) {
    deps.log.warn({ err, conversationId }, 'memory: could not embed messages; they are recalled by words only');
  }
}
