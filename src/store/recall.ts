import { sql } from 'kysely';
import type { DB } from './db.js';
import type { DialectName } from './dialect.js';

/** A stored line that matched a search. */
export interface RecalledLine {
  seq: number;
  role: string;
  content: string;
  authorName: string | null;
  createdAt: string;
}

export interface RecallQuery {
  conversationId: string;
  /** Lower-case words (letters and digits only), as {@link searchWords} makes them. */
  words: string[];
  /** Only messages above this seq (the owner's recall floor). */
  afterSeq: number;
  /** Only messages below this seq (older than the context window). */
  beforeSeq: number;
  limit: number;
}

/** Words in more stored messages than this say nothing about which ones matter; recall drops them. */
export const COMMON_WORD_DOCS = 1000;
const MAX_WORDS = 12;

/**
 * The words of a text as the full-text indexes split it: lower case, letters and digits only
 * (SQLite's unicode61 and PostgreSQL's 'simple' configuration split alike), deduplicated, at
 * most 12, longest first. SQLite also ignores accents; PostgreSQL, without the `unaccent`
 * extension, matches them as written.
 */
export function searchWords(text: string): string[] {
  const words = new Set(text.normalize('NFC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
  return [...words].filter((w) => w.length >= 3 && w.length <= 40).sort((a, b) => b.length - a.length).slice(0, MAX_WORDS);
}

/**
 * Full-text search of stored messages: SQLite FTS5 or PostgreSQL `message_search` (migration
 * 036). The cost stays bounded however long a conversation grows: words that occur in more than
 * COMMON_WORD_DOCS messages are dropped first (their posting lists are the expensive part, and
 * they rank nothing), and the search walks the index of the rare words, joining each hit to its
 * message by primary key.
 */
export class RecallRepo {
  constructor(private db: DB, private dialect: DialectName) {}

  /** The best matches of any of `words`, best first; forgotten and notice messages are never returned. */
  async search(q: RecallQuery): Promise<RecalledLine[]> {
    const words = await this.rareWords(q.words);
    if (!words.length || q.limit <= 0) return [];
    const rows = this.dialect === 'sqlite' ? await this.searchSqlite(q, words) : await this.searchPostgres(q, words);
    return rows.map((r) => ({ seq: Number(r.seq), role: r.role, content: r.content, authorName: r.author_name, createdAt: r.created_at }));
  }

  /** `words` without those in more than COMMON_WORD_DOCS messages. */
  async rareWords(words: string[]): Promise<string[]> {
    if (!words.length) return [];
    if (this.dialect === 'sqlite') {
      // The vocabulary holds words as FTS5 stores them: accents removed.
      const terms = new Map(words.map((w) => [w, w.normalize('NFKD').replace(/\p{M}/gu, '')]));
      const rows = await sql<{ term: string; doc: number }>`select term, doc from message_fts_vocab where term in (${sql.join([...new Set(terms.values())])})`.execute(this.db);
      const docs = new Map(rows.rows.map((r) => [r.term, Number(r.doc)]));
      return words.filter((w) => {
        const n = docs.get(terms.get(w)!);
        return n !== undefined && n <= COMMON_WORD_DOCS;
      });
    }
    // PostgreSQL keeps no per-word document count; counting up to the cap reads at most that many
    // index entries per word.
    const out: string[] = [];
    for (const w of words) {
      const r = await sql<{ n: string }>`select count(*) as n from (select 1 from message_search where tsv @@ to_tsquery('simple', ${quoteTs(w)}) limit ${COMMON_WORD_DOCS + 1}) t`.execute(this.db);
      const n = Number(r.rows[0]?.n ?? 0);
      if (n > 0 && n <= COMMON_WORD_DOCS) out.push(w);
    }
    return out;
  }

  private async searchSqlite(q: RecallQuery, words: string[]) {
    const match = words.map((w) => `"${w}"`).join(' OR ');
    // CROSS JOIN keeps the FTS table as the outer loop: SQLite would otherwise walk the
    // conversation's messages (the whole history) and probe the index for each.
    const r = await sql<Row>`
      select m.seq, m.role, m.content, m.author_name, m.created_at
      from message_fts cross join messages m on m.seq = message_fts.rowid
      where message_fts match ${match}
        and m.conversation_id = ${q.conversationId}
        and m.seq > ${q.afterSeq} and m.seq < ${q.beforeSeq}
        and m.kind in ('user', 'assistant', 'proactive')
        and not exists (select 1 from memory_forgotten f where f.seq = m.seq)
      order by bm25(message_fts)
      limit ${q.limit}`.execute(this.db);
    return r.rows;
  }

  private async searchPostgres(q: RecallQuery, words: string[]) {
    const query = words.map(quoteTs).join(' | ');
    const r = await sql<Row>`
      select m.seq, m.role, m.content, m.author_name, m.created_at
      from message_search s join messages m on m.seq = s.seq
      where s.tsv @@ to_tsquery('simple', ${query})
        and s.conversation_id = ${q.conversationId}
        and s.seq > ${q.afterSeq} and s.seq < ${q.beforeSeq}
        and m.kind in ('user', 'assistant', 'proactive')
        and not exists (select 1 from memory_forgotten f where f.seq = m.seq)
      order by ts_rank(s.tsv, to_tsquery('simple', ${query})) desc, s.seq desc
      limit ${q.limit}`.execute(this.db);
    return r.rows;
  }
}

interface Row {
  seq: number | string;
  role: string;
  content: string;
  author_name: string | null;
  created_at: string;
}

/** A word as a tsquery lexeme; searchWords leaves only letters and digits, quoting keeps it literal. */
function quoteTs(w: string): string {
  return `'${w.replace(/'/g, "''")}'`;
}

/** A message's vector, as recall by meaning compares it. */
export interface StoredEmbedding {
  seq: number;
  vector: Float32Array;
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

/**
 * Embeddings of stored messages (EMBEDDINGS_MODEL). Reads are bounded: recall compares the
 * newest `limit` vectors of one conversation, never the whole history.
 */
export class EmbeddingRepo {
  constructor(private db: DB) {}

  async put(rows: Array<{ seq: number; conversationId: string; model: string; vector: readonly number[] }>): Promise<void> {
    for (const r of rows) {
      await this.db
        .insertInto('memory_embeddings')
        .values({ seq: r.seq, conversation_id: r.conversationId, model: r.model, vector: encodeVector(r.vector) })
        .onConflict((oc) => oc.column('seq').doUpdateSet({ model: r.model, vector: encodeVector(r.vector) }))
        .execute();
    }
  }

  /** The newest `limit` vectors of `model` in a conversation between the seqs, never forgotten ones. */
  async newest(q: { conversationId: string; model: string; afterSeq: number; beforeSeq: number; limit: number }): Promise<StoredEmbedding[]> {
    const rows = await this.db
      .selectFrom('memory_embeddings as e')
      .select(['e.seq', 'e.vector'])
      .where('e.conversation_id', '=', q.conversationId)
      .where('e.model', '=', q.model)
      .where('e.seq', '>', q.afterSeq)
      .where('e.seq', '<', q.beforeSeq)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('memory_forgotten as f').select('f.seq').whereRef('f.seq', '=', 'e.seq'))))
      .orderBy('e.seq', 'desc')
      .limit(q.limit)
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), vector: decodeVector(r.vector) }));
  }

  /** The lines of these messages (user and character lines only), for recall by meaning. */
  async lines(seqs: number[]): Promise<RecalledLine[]> {
    if (!seqs.length) return [];
    const rows = await this.db
      .selectFrom('messages')
      .select(['seq', 'role', 'content', 'author_name', 'created_at'])
      .where('seq', 'in', seqs)
      .where('kind', 'in', ['user', 'assistant', 'proactive'])
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), role: r.role, content: r.content, authorName: r.author_name, createdAt: r.created_at }));
  }
}
