import { sql, type Selectable } from 'kysely';
import type { MessageKind, MessageRole, StoredMessage } from '../core/types.js';
import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import type { DB } from './db.js';
import type { MessageRow } from './schema.js';
import { prepared } from './prepared.js';
import { MessageCache } from './message-cache.js';
import { sqlDialect, type SqlDialect } from './dialect.js';

type NewRow = Omit<Selectable<MessageRow>, 'seq'>;

// The statements of every turn, compiled once (see prepared.ts).
const insertMessage = prepared((db, p: NewRow) =>
  db
    .insertInto('messages')
    .values({ id: p.id, conversation_id: p.conversation_id, role: p.role, kind: p.kind, content: p.content, image_urls: p.image_urls, token_count: p.token_count, author_id: p.author_id, author_name: p.author_name, created_at: p.created_at, source_event: p.source_event })
    .onConflict((oc) => oc.column('source_event').doNothing())
    .returningAll(),
);
/** A new message's mark on its conversation: `counted` 1 or 0 (notices are not history), a null time keeps the column. */
const countMessage = prepared((db, p: { id: string; now: string; counted: number; userAt: string | null; assistantAt: string | null }) =>
  db
    .updateTable('conversations')
    .set({
      updated_at: p.now,
      message_count: sql<number>`message_count + ${p.counted}`,
      last_user_at: sql<string | null>`coalesce(${p.userAt}, last_user_at)`,
      last_assistant_at: sql<string | null>`coalesce(${p.assistantAt}, last_assistant_at)`,
    })
    .where('id', '=', p.id),
);
/** No upper bound is `seq < MAX_SAFE_INTEGER`, so one statement serves both. */
const newestRows = prepared((db, p: { conversationId: string; afterSeq: number; beforeSeq: number; limit: number }) =>
  db.selectFrom('messages').selectAll().where('conversation_id', '=', p.conversationId).where('seq', '>', p.afterSeq).where('seq', '<', p.beforeSeq).orderBy('seq', 'desc').limit(p.limit),
);
const newestOfKinds = prepared((db, p: { conversationId: string; afterSeq: number; beforeSeq: number; limit: number; kinds: readonly MessageKind[] }) =>
  db.selectFrom('messages').selectAll().where('conversation_id', '=', p.conversationId).where('seq', '>', p.afterSeq).where('seq', '<', p.beforeSeq).where('kind', 'in', p.kinds).orderBy('seq', 'desc').limit(p.limit),
);
/** The seqs of a range, from the (conversation_id, seq) index alone: no row is read. */
const newestSeqs = prepared((db, p: { conversationId: string; afterSeq: number; beforeSeq: number; limit: number }) =>
  db.selectFrom('messages').select('seq').where('conversation_id', '=', p.conversationId).where('seq', '>', p.afterSeq).where('seq', '<', p.beforeSeq).orderBy('seq', 'desc').limit(p.limit),
);
const rowsBySeq = prepared((db, p: { seqs: readonly number[] }) => db.selectFrom('messages').selectAll().where('seq', 'in', p.seqs));
const oldestSeqsAfter = prepared((db, p: { conversationId: string; afterSeq: number; limit: number }) =>
  db.selectFrom('messages').select('seq').where('conversation_id', '=', p.conversationId).where('seq', '>', p.afterSeq).orderBy('seq').limit(p.limit),
);
const oldestRowsAfter = prepared((db, p: { conversationId: string; afterSeq: number; limit: number }) =>
  db.selectFrom('messages').selectAll().where('conversation_id', '=', p.conversationId).where('seq', '>', p.afterSeq).orderBy('seq').limit(p.limit),
);
/**
 * Reads of fewer rows go straight to the table. With more missing from the cache than
 * `MAX_FETCHED_BY_SEQ` (a conversation this process has not read yet), the range is read whole.
 */
const MIN_CACHED_READ = 8;
const MAX_FETCHED_BY_SEQ = 16;

export function toMessage(r: Selectable<MessageRow>): StoredMessage {
  return {
    seq: r.seq,
    id: r.id,
    conversationId: r.conversation_id,
    role: r.role as MessageRole,
    kind: r.kind as MessageKind,
    content: r.content,
    imageUrls: r.image_urls ? (JSON.parse(r.image_urls) as string[]) : [],
    tokenCount: r.token_count,
    authorId: r.author_id,
    authorName: r.author_name,
    createdAt: r.created_at,
  };
}

export interface NewMessage {
  conversationId: string;
  role: MessageRole;
  kind: MessageKind;
  content: string;
  imageUrls?: string[];
  tokenCount: number;
  authorId?: string | null;
  authorName?: string | null;
  /** Use a pre-made id (e.g. one already promised to a client). */
  id?: string;
  /** The platform event this message came from; a second append for the same event returns the first. */
  sourceEvent?: string | null;
}

/** Messages, ordered by an autoincrement `seq`; every read walks the (conversation_id, seq) index. */
export class MessageRepo {
  constructor(
    private db: DB,
    private clock: Clock,
    private readonly dialect: SqlDialect = sqlDialect('sqlite'),
    private readonly cache = new MessageCache(),
  ) {}

  /**
   * Append a message and bump the conversation's counters in one transaction. A message for an
   * event already stored returns the stored one, even when two appends for it race (the unique
   * index on `source_event` lets one insert win; the other reads the winner's row). `alongside`
   * writes what belongs with a new message in the same transaction (a reply's usage row).
   */
  async append(m: NewMessage, opts: { alongside?: (tx: DB, message: StoredMessage) => Promise<unknown> } = {}): Promise<StoredMessage> {
    const now = new Date(this.clock.now()).toISOString();
    const stored = await this.db.transaction().execute(async (tx) => {
      // Insert first: a message for an event already stored is the rare case (a re-run), read below.
      const row = await insertMessage.first(tx, {
        id: m.id ?? newId('msg'),
        conversation_id: m.conversationId,
        role: m.role,
        kind: m.kind,
        content: m.content,
        image_urls: m.imageUrls && m.imageUrls.length ? JSON.stringify(m.imageUrls) : null,
        token_count: m.tokenCount,
        author_id: m.authorId ?? null,
        author_name: m.authorName ?? null,
        created_at: now,
        source_event: m.sourceEvent ?? null,
      });
      if (!row) return undefined;
      await countMessage.affected(tx, {
        id: m.conversationId,
        now,
        counted: m.kind === 'system-notice' ? 0 : 1,
        userAt: m.role === 'user' ? now : null,
        assistantAt: m.role === 'assistant' ? now : null,
      });
      const message = toMessage(row);
      await opts.alongside?.(tx, message);
      return message;
    });
    if (stored) {
      this.cache.keep(stored);
      return stored;
    }
    // Lost the race for this event: the winner has committed (the insert waited for it).
    const winner = await this.db.selectFrom('messages').selectAll().where('source_event', '=', m.sourceEvent!).executeTakeFirstOrThrow();
    return toMessage(winner);
  }

  /**
   * Newest first: up to `limit` messages with seq above `afterSeq` and below `beforeSeq`.
   * The context builder pages through this until its token budget is full.
   */
  async newest(conversationId: string, opts: { afterSeq?: number; beforeSeq?: number; limit: number; kinds?: MessageKind[] }): Promise<StoredMessage[]> {
    const range = { conversationId, afterSeq: opts.afterSeq ?? 0, beforeSeq: opts.beforeSeq ?? Number.MAX_SAFE_INTEGER, limit: opts.limit };
    if (opts.kinds) return (await newestOfKinds.rows(this.db, { ...range, kinds: opts.kinds })).map(toMessage);
    if (opts.limit < MIN_CACHED_READ) return (await newestRows.rows(this.db, range)).map(toMessage);
    return this.throughCache(await newestSeqs.rows(this.db, range), () => newestRows.rows(this.db, range));
  }

  /** `newest` reduced to what counting tokens needs (memory's window walk, right before the context reads the same rows). */
  async newestTokens(conversationId: string, opts: { afterSeq: number; beforeSeq?: number | undefined; limit: number }): Promise<Array<{ seq: number; tokenCount: number }>> {
    const rows = await this.newest(conversationId, { afterSeq: opts.afterSeq, ...(opts.beforeSeq !== undefined ? { beforeSeq: opts.beforeSeq } : {}), limit: opts.limit });
    return rows.map((m) => ({ seq: m.seq, tokenCount: m.tokenCount }));
  }

  /** The oldest `limit` messages above `afterSeq`, oldest first (what memory extraction has not read yet). */
  async after(conversationId: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    const range = { conversationId, afterSeq, limit };
    return this.throughCache(await oldestSeqsAfter.rows(this.db, range), () => oldestRowsAfter.rows(this.db, range));
  }

  /**
   * The rows for `seqs` (listed from the index, in order): those this process holds from the
   * cache, the few it does not by seq, or — when many are missing — the whole range again.
   */
  private async throughCache(seqs: ReadonlyArray<{ seq: number }>, wholeRange: () => Promise<Array<Selectable<MessageRow>>>): Promise<StoredMessage[]> {
    const found = new Map<number, StoredMessage>();
    const missing: number[] = [];
    for (const { seq } of seqs) {
      const hit = this.cache.get(seq);
      if (hit) found.set(seq, hit);
      else missing.push(seq);
    }
    if (missing.length > MAX_FETCHED_BY_SEQ) return (await wholeRange()).map((r) => this.cache.keep(toMessage(r)));
    if (missing.length > 0) for (const r of await rowsBySeq.rows(this.db, { seqs: missing })) found.set(r.seq, this.cache.keep(toMessage(r)));
    // A listed row can be gone by now only with its whole conversation.
    return seqs.flatMap(({ seq }) => found.get(seq) ?? []);
  }

  /**
   * One page of history for display, oldest first, walking the (conversation_id, seq) index
   * backwards from `beforeSeq`. Notices the engine stored for itself are left out. A message's
   * pictures are counted in the database (`imageCount`; `imageUrls` left empty), never read: a
   * row stored before messages kept only notes of them holds each as a data URL of up to
   * MAX_IMAGE_BYTES, so a thousand-message history read whole could fill the heap.
   */
  async page(conversationId: string, opts: { beforeSeq?: number | undefined; limit: number }): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    let q = this.db
      .selectFrom('messages')
      .select(['seq', 'id', 'conversation_id', 'role', 'kind', 'content', 'token_count', 'author_id', 'author_name', 'created_at'])
      .select(this.dialect.jsonArrayLength('image_urls').as('image_count'))
      .where('conversation_id', '=', conversationId)
      .where('kind', 'in', ['user', 'assistant', 'proactive']);
    if (opts.beforeSeq !== undefined) q = q.where('seq', '<', opts.beforeSeq);
    const rows = await q.orderBy('seq', 'desc').limit(opts.limit + 1).execute();
    const messages = rows.slice(0, opts.limit).reverse().map((r) => ({ ...toMessage({ ...r, image_urls: null, source_event: null } as Selectable<MessageRow>), imageCount: Number(r.image_count) }));
    return { messages, hasMore: rows.length > opts.limit };
  }

  async get(id: string): Promise<StoredMessage | undefined> {
    const r = await this.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toMessage(r);
  }

  /** The message an event (or a step of it, e.g. `…:reply`) stored, if it did. */
  async bySourceEvent(sourceEvent: string): Promise<StoredMessage | undefined> {
    const r = await this.db.selectFrom('messages').selectAll().where('source_event', '=', sourceEvent).executeTakeFirst();
    return r && toMessage(r);
  }
}
