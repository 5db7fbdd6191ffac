import { sql } from 'kysely';
import type { DB } from './db.js';
import type { DialectName } from './dialect.js';
import { conversationPrefix, indexedText, wordsOf } from './search-terms.js';

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
  /**
   * Only lines of this character's turns: its own replies, and user messages it answered (the
   * reply that followed was its). Another character of the same conversation keeps its own.
   */
  characterId: string;
  limit: number;
}

/** Words in more messages of a conversation than this say nothing about which ones matter; recall drops them. */
export const COMMON_WORD_DOCS = 1000;
const MAX_WORDS = 12;

/**
 * The words of a text as the full-text indexes split them (`wordsOf`: lower case, letters and
 * digits only; SQLite's unicode61 and PostgreSQL's 'simple' configuration split alike),
 * deduplicated, at most 12, longest first. SQLite also ignores accents; PostgreSQL, without the
 * `unaccent` extension, matches them as written.
 */
export function searchWords(text: string): string[] {
  return [...new Set(wordsOf(text))].sort((a, b) => b.length - a.length).slice(0, MAX_WORDS);
}

/**
 * Full-text search of stored messages: SQLite FTS5 or PostgreSQL `message_search` (migrations
 * 036 and 050), each word indexed per conversation (`search-terms.ts`). The cost stays bounded
 * however long a conversation grows: words that occur in more than COMMON_WORD_DOCS of its
 * messages are dropped first (their posting lists are the expensive part, and they rank
 * nothing), and the search walks the index of the rare words, joining each hit to its message by
 * primary key.
 */
export class RecallRepo {
  private statsCache: { at: number; words: Set<string> } | undefined;
  /** SQLite: the seq up to which this process last saw the index hold every message. */
  private indexedUpTo = -1;
  constructor(private db: DB, private dialect: DialectName) {}

  /**
   * The best matches of any of `words`, best first; forgotten and notice messages are never
   * returned. Every message below `beforeSeq` is searched: on SQLite, where the index is filled
   * in batches, messages not indexed yet in that range are indexed first (after `/clear` the
   * whole history leaves the window at once).
   */
  async search(q: RecallQuery): Promise<RecalledLine[]> {
    if (this.dialect === 'sqlite' && q.beforeSeq - 1 > this.indexedUpTo) await this.indexPending();
    const words = await this.rareWords(q.conversationId, q.words);
    if (!words.length || q.limit <= 0) return [];
    const rows = this.dialect === 'sqlite' ? await this.searchSqlite(q, words) : await this.searchPostgres(q, words);
    return rows.map((r) => ({ seq: Number(r.seq), role: r.role, content: r.content, authorName: r.author_name, createdAt: r.created_at }));
  }

  /**
   * Add the messages SQLite's full-text index does not hold yet, `batch` at a time until none
   * are left, each batch one transaction (migration 043); returns how many. Any process may run
   * it at any time: the cursor is read and moved inside the transaction. A no-op on PostgreSQL,
   * whose index a trigger keeps.
   */
  async indexPending(batch = 500): Promise<number> {
    if (this.dialect !== 'sqlite') return 0;
    let indexed = 0;
    for (;;) {
      const step = await this.db.transaction().execute(async (tx) => {
        // Messages edited since they were indexed (migration 050's `message_fts_redo`) first.
        const redo = await sql<Pending>`select m.seq, m.conversation_id, m.content from message_fts_redo r join messages m on m.seq = r.seq limit ${batch}`.execute(tx);
        if (redo.rows.length) {
          await insertWords(tx, redo.rows);
          await sql`delete from message_fts_redo where seq in (${sql.join(redo.rows.map((r) => r.seq))})`.execute(tx);
        }
        const cur = await sql<{ at: number }>`select indexed_seq as at from message_fts_progress where id = 1`.execute(tx);
        const from = Number(cur.rows[0]?.at ?? 0);
        const rows = (await sql<Pending>`select seq, conversation_id, content from messages where seq > ${from} order by seq limit ${batch}`.execute(tx)).rows;
        if (!rows.length) return { upTo: from, n: redo.rows.length, full: redo.rows.length === batch };
        await insertWords(tx, rows);
        const to = Number(rows.at(-1)!.seq);
        await sql`update message_fts_progress set indexed_seq = ${to} where id = 1`.execute(tx);
        return { upTo: to, n: rows.length + redo.rows.length, full: rows.length === batch || redo.rows.length === batch };
      });
      this.indexedUpTo = Math.max(this.indexedUpTo, step.upTo);
      indexed += step.n;
      // A short batch reached the end: no second write transaction just to find nothing.
      if (!step.full) return indexed;
    }
  }

  /**
   * `words` without those in more than COMMON_WORD_DOCS messages of the conversation (and those
   * in none). Each word is counted up to the cap only, so a common word costs a cap's worth of
   * index entries, not its whole posting list: FTS5 walks its doclist lazily; PostgreSQL's
   * planner statistics (`most_common_elems` of the tsvector column, kept by ANALYZE) drop the
   * words they already know to be common before anything is counted.
   */
  async rareWords(conversationId: string, words: string[]): Promise<string[]> {
    if (!words.length) return [];
    const prefix = conversationPrefix(conversationId);
    const rare = (n: number) => n > 0 && n <= COMMON_WORD_DOCS;
    if (this.dialect === 'sqlite') {
      const out: string[] = [];
      for (const w of words) {
        const r = await sql<{ n: number }>`select count(*) as n from (select rowid from message_fts where message_fts match ${`"${prefix}${w}"`} limit ${COMMON_WORD_DOCS + 1})`.execute(this.db);
        if (rare(Number(r.rows[0]?.n ?? 0))) out.push(w);
      }
      return out;
    }
    const common = await this.commonByStats();
    const candidates = words.filter((w) => !common.has(prefix + w));
    if (!candidates.length) return [];
    // One round trip for every word's capped count. Lexemes are cast, never parsed: the parser
    // would read a prefix such as `3e10` as a number and split the word.
    const r = await sql<{ w: string; n: string }>`
      select w, (select count(*) from (select 1 from message_search where tsv @@ quote_literal(${prefix} || w)::tsquery limit ${COMMON_WORD_DOCS + 1}) t) as n
      from unnest(${candidates}::text[]) as w`.execute(this.db);
    const counts = new Map(r.rows.map((row) => [row.w, Number(row.n)]));
    return candidates.filter((w) => rare(counts.get(w) ?? 0));
  }

  /** Prefixed words PostgreSQL's statistics say occur in more than COMMON_WORD_DOCS messages; read at most once a minute. */
  private async commonByStats(): Promise<Set<string>> {
    const now = Date.now();
    if (this.statsCache && now - this.statsCache.at < STATS_TTL_MS) return this.statsCache.words;
    const r = await sql<{ elems: string[] | string | null; freqs: number[] | string | null; rows: number | string }>`
      select s.most_common_elems::text as elems, s.most_common_elem_freqs as freqs, c.reltuples::float8 as rows
      from pg_class c left join pg_stats s on s.schemaname = current_schema() and s.tablename = 'message_search' and s.attname = 'tsv'
      where c.oid = to_regclass('message_search')`.execute(this.db);
    const row = r.rows[0];
    const words = new Set<string>();
    const elems = pgArray(row?.elems);
    const freqs = pgArray(row?.freqs).map(Number);
    const total = Number(row?.rows ?? 0);
    elems.forEach((e, i) => {
      if ((freqs[i] ?? 0) * total > COMMON_WORD_DOCS) words.add(e);
    });
    this.statsCache = { at: now, words };
    return words;
  }

  private async searchSqlite(q: RecallQuery, words: string[]) {
    const prefix = conversationPrefix(q.conversationId);
    const match = words.map((w) => `"${prefix}${w}"`).join(' OR ');
    // CROSS JOIN keeps the FTS table as the outer loop: SQLite would otherwise walk the
    // conversation's messages (the whole history) and probe the index for each.
    const r = await sql<Row>`
      select m.seq, m.role, m.content, m.author_name, m.created_at
      from message_fts cross join messages m on m.seq = message_fts.rowid
      where message_fts match ${match}
        and m.conversation_id = ${q.conversationId}
        and m.seq > ${q.afterSeq} and m.seq < ${q.beforeSeq}
        and m.kind in ('user', 'assistant', 'proactive')
        and ${ofCharacter(q.characterId)}
        and not exists (select 1 from memory_forgotten f where f.seq = m.seq)
      order by bm25(message_fts)
      limit ${q.limit}`.execute(this.db);
    return r.rows;
  }

  private async searchPostgres(q: RecallQuery, words: string[]) {
    const prefix = conversationPrefix(q.conversationId);
    const query = words.map((w) => quoteTs(prefix + w)).join(' | ');
    const r = await sql<Row>`
      select m.seq, m.role, m.content, m.author_name, m.created_at
      from message_search s join messages m on m.seq = s.seq
      where s.tsv @@ ${query}::tsquery
        and s.conversation_id = ${q.conversationId}
        and s.seq > ${q.afterSeq} and s.seq < ${q.beforeSeq}
        and m.kind in ('user', 'assistant', 'proactive')
        and ${ofCharacter(q.characterId)}
        and not exists (select 1 from memory_forgotten f where f.seq = m.seq)
      order by ts_rank(s.tsv, ${query}::tsquery) desc, s.seq desc
      limit ${q.limit}`.execute(this.db);
    return r.rows;
  }
}

interface Pending {
  seq: number;
  conversation_id: string;
  content: string;
}

/** Messages into SQLite's full-text index, as their conversations' prefixed words. */
async function insertWords(db: DB, rows: readonly Pending[]): Promise<void> {
  const prefixes = new Map<string, string>();
  await sql`insert into message_fts (rowid, words) values ${sql.join(rows.map((r) => sql`(${r.seq}, ${indexedText(r.conversation_id, r.content, prefixes)})`))}`.execute(db);
}

interface Row {
  seq: number | string;
  role: string;
  content: string;
  author_name: string | null;
  created_at: string;
}

const STATS_TTL_MS = 60_000;

/** A PostgreSQL array as node-postgres returns it (parsed, or as `{a,b}` text for unknown types). */
function pgArray(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v !== 'string' || v.length < 2) return [];
  return v.slice(1, -1).split(',').filter(Boolean).map((x) => x.replace(/^"(.*)"$/, '$1'));
}

/**
 * `m` (a message) belongs to the character's turns: its reply, or a user message whose next
 * reply is the character's. Evaluated only for full-text matches, each one index probe.
 */
export function ofCharacter(characterId: string) {
  return sql<boolean>`(case when m.role = 'user' then (select a.author_id from messages a where a.conversation_id = m.conversation_id and a.seq > m.seq and a.role = 'assistant' order by a.seq limit 1) else m.author_id end) = ${characterId}`;
}

/** A prefixed word as a tsquery lexeme (cast, not parsed); searchWords leaves only lower-case letters and digits, quoting keeps it literal. */
function quoteTs(w: string): string {
  return `'${w.replace(/'/g, "''")}'`;
}
