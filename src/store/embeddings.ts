import { LRUCache } from 'lru-cache';
import type { DB } from './db.js';
import { chunks } from './dialect.js';
import { ofCharacter, type RecalledLine } from './recall.js';

/** A message's vector, as recall by meaning compares it, with its length computed once. */
export interface StoredEmbedding {
  seq: number;
  vector: Float32Array;
  /** The vector's Euclidean length. */
  norm: number;
}

/** float32 little-endian → base64, the portable text both engines store. */
export function encodeVector(v: readonly number[]): string {
  const f = Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

export function decodeVector(text: string): Float32Array {
  const b = Buffer.from(text, 'base64');
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer, 0, Math.floor(copy.byteLength / 4));
}

export function norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  return Math.sqrt(sum);
}

/** Room for the vectors of a few long conversations (2000 vectors of 1536 dimensions are 12 MB). */
const DEFAULT_CACHE_BYTES = 64 * 2 ** 20;

/**
 * Embeddings of stored messages (EMBEDDINGS_MODEL). Reads are bounded: recall compares the
 * newest `limit` vectors of one conversation, never the whole history.
 *
 * Decoded vectors are cached per process by seq: reading and decoding two thousand vectors of
 * 1536 dimensions (16 MB of base64) cost 40-55 ms a turn. As with `MessageCache`, a read lists
 * the seqs from the database first and takes from the cache only vectors of rows still there,
 * with the model listed (a message is embedded again only under another model), so what it
 * answers is never stale, on any instance.
 */
export class EmbeddingRepo {
  private readonly cache: LRUCache<number, { model: string; embedding: StoredEmbedding }>;

  constructor(
    private db: DB,
    cacheBytes = DEFAULT_CACHE_BYTES,
  ) {
    this.cache = new LRUCache({ maxSize: cacheBytes, sizeCalculation: (v) => v.embedding.vector.byteLength + 100 });
  }

  async put(rows: Array<{ seq: number; conversationId: string; model: string; vector: readonly number[] }>): Promise<void> {
    for (const r of rows) {
      const text = encodeVector(r.vector);
      await this.db
        .insertInto('memory_embeddings')
        .values({ seq: r.seq, conversation_id: r.conversationId, model: r.model, vector: text })
        .onConflict((oc) => oc.column('seq').doUpdateSet({ model: r.model, vector: text }))
        .execute();
      this.keep(r.seq, r.model, Float32Array.from(r.vector));
    }
  }

  /** The newest `limit` vectors of `model` in a conversation between the seqs, never forgotten ones. */
  async newest(q: { conversationId: string; model: string; afterSeq: number; beforeSeq: number; limit: number }): Promise<StoredEmbedding[]> {
    const listed = await this.db
      .selectFrom('memory_embeddings as e')
      .select('e.seq')
      .where('e.conversation_id', '=', q.conversationId)
      .where('e.model', '=', q.model)
      .where('e.seq', '>', q.afterSeq)
      .where('e.seq', '<', q.beforeSeq)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('memory_forgotten as f').select('f.seq').whereRef('f.seq', '=', 'e.seq'))))
      .orderBy('e.seq', 'desc')
      .limit(q.limit)
      .execute();
    const seqs = listed.map((r) => Number(r.seq));
    const known = (seq: number) => {
      const hit = this.cache.get(seq);
      return hit?.model === q.model ? hit.embedding : undefined;
    };
    const missing = seqs.filter((seq) => !known(seq));
    const fetched = new Map<number, StoredEmbedding>();
    for (const chunk of chunks(missing)) {
      const rows = await this.db.selectFrom('memory_embeddings').select(['seq', 'model', 'vector']).where('seq', 'in', chunk).execute();
      // A row embedded again under another model since it was listed is left out this turn.
      for (const r of rows) if (r.model === q.model) fetched.set(Number(r.seq), this.keep(Number(r.seq), r.model, decodeVector(r.vector)));
    }
    return seqs.flatMap((seq) => {
      const e = fetched.get(seq) ?? known(seq);
      return e ? [e] : [];
    });
  }

  /** The lines of these messages of the character's turns (as RecallQuery.characterId), for recall by meaning. */
  async lines(seqs: number[], characterId: string): Promise<RecalledLine[]> {
    if (!seqs.length) return [];
    const rows = await this.db
      .selectFrom('messages as m')
      .select(['m.seq', 'm.role', 'm.content', 'm.author_name', 'm.created_at'])
      .where('m.seq', 'in', seqs)
      .where('m.kind', 'in', ['user', 'assistant', 'proactive'])
      .where(ofCharacter(characterId))
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), role: r.role, content: r.content, authorName: r.author_name, createdAt: r.created_at }));
  }

  private keep(seq: number, model: string, vector: Float32Array): StoredEmbedding {
    const embedding = { seq, vector, norm: norm(vector) };
    this.cache.set(seq, { model, embedding });
    return embedding;
  }
}
