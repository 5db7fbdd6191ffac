import { sql } from 'kysely';
import { EventEmitter } from 'node:events';
import type { Selectable } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { DB } from './db.js';
import { LockSpace, type SqlDialect } from './dialect.js';
import type { UpdateRow } from './schema.js';

export type UpdateKind = 'reply' | 'proactive' | 'error';

/** The lock every append holds until it commits (PostgreSQL), so feed ids commit in id order. */
export const FEED_APPEND_LOCK = { space: LockSpace.updatesFeed, key: 'append' } as const;

/** One entry of a key's updates feed. */
export interface Update {
  /** The cursor position of this entry. */
  id: number;
  apiKeyId: string;
  conversationId: string;
  characterId: string;
  kind: UpdateKind;
  /** Present for `reply` and `proactive`. */
  message: { id: string; content: string; sentAt: string } | null;
  /** Present for `error`: why an async turn failed. */
  error: { code: string; message: string } | null;
  createdAt: string;
}

export interface NewUpdate {
  apiKeyId: string;
  conversationId: string;
  characterId: string;
  kind: UpdateKind;
  message?: { id: string; content: string; sentAt: string } | null;
  error?: { code: string; message: string } | null;
}

export interface UpdateQuery {
  /** Only this key's entries; null (the admin) reads every key's. */
  apiKeyId: string | null;
  conversationId?: string | undefined;
  /** Entries with an id above this. */
  afterId?: number | undefined;
  /** Entries created after this ISO time. */
  since?: string | undefined;
  limit: number;
}

function toUpdate(r: Selectable<UpdateRow>): Update {
  return {
    id: r.id,
    apiKeyId: r.api_key_id,
    conversationId: r.conversation_id,
    characterId: r.character_id,
    kind: r.kind as UpdateKind,
    message: r.message_id !== null ? { id: r.message_id, content: r.content ?? '', sentAt: r.created_at } : null,
    error: r.error_json ? (JSON.parse(r.error_json) as { code: string; message: string }) : null,
    createdAt: r.created_at,
  };
}

/**
 * The updates feed: messages API clients did not get in a response (async replies, failures,
 * proactive messages). Appends wake long-polling readers through an in-process emitter, so
 * `GET /updates?wait=` sleeps until there is something to read instead of polling the table.
 * Anything that appends through this repository (the chat service, the proactive scheduler)
 * wakes them; an append by another instance arrives through {@link announce} (Redis pub/sub).
 */
export class UpdateRepo {
  private readonly appended = new EventEmitter().setMaxListeners(0);
  private stopped = false;

  constructor(private db: DB, private clock: Clock, private dialect: SqlDialect) {}

  /**
   * Add an entry. The cursor is the id, so ids must become visible in id order, or a reader could
   * move its cursor past an id that commits later and never see that entry. SQLite assigns ids
   * inside its single write lock, so that holds by itself; on PostgreSQL sequence values are
   * handed out before commit, so appends take one advisory lock for the length of the insert's
   * transaction: an id is assigned only after every lower id has committed or rolled back.
   *
   * A message is on the feed at most once: appending one that is already there returns the
   * entry it has. A turn another instance finished after a crash reuses the stored reply, so
   * its answer is appended again; the lock (SQLite's write lock) makes look-then-insert atomic.
   */
  async append(u: NewUpdate): Promise<Update> {
    const { update, tell } = await this.db.transaction().execute((tx) => this.appendWithin(tx, u));
    tell();
    return update;
  }

  /**
   * `append` inside a caller's transaction (with what must land together with the entry, or not
   * at all); `tell` wakes the feed's readers, once that transaction has committed.
   */
  async appendWithin(tx: DB, u: NewUpdate): Promise<{ update: Update; tell: () => void }> {
    await this.dialect.lock(tx, FEED_APPEND_LOCK.space, FEED_APPEND_LOCK.key);
    const existing = u.message ? await tx.selectFrom('updates').selectAll().where('message_id', '=', u.message.id).where('conversation_id', '=', u.conversationId).executeTakeFirst() : undefined;
    const row =
      existing ??
      (await tx
        .insertInto('updates')
        .values({
          api_key_id: u.apiKeyId,
          conversation_id: u.conversationId,
          character_id: u.characterId,
          kind: u.kind,
          message_id: u.message?.id ?? null,
          content: u.message?.content ?? null,
          error_json: u.error ? JSON.stringify(u.error) : null,
          created_at: u.message?.sentAt ?? new Date(this.clock.now()).toISOString(),
        })
        .returningAll()
        .executeTakeFirstOrThrow());
    const update = toUpdate(row);
    const tell = () => {
      if (existing) return;
      this.appended.emit('update', update);
      this.appended.emit('appended', update);
    };
    return { update, tell };
  }

  /** Hear every entry this process appends (to tell other instances). Returns the unsubscribe. */
  onAppend(listener: (u: Update) => void): () => void {
    this.appended.on('appended', listener);
    return () => void this.appended.off('appended', listener);
  }

  /** An entry another instance appended: wake the long-polls here that wait for it. */
  announce(u: Update): void {
    this.appended.emit('update', u);
  }

  /**
   * Entries in cursor order, and the cursor to pass next time. The upper bound is read first,
   * so an entry appended during the read lands above the returned cursor: no gaps, no repeats
   * (every id up to the bound has committed, see {@link append}).
   */
  async list(q: UpdateQuery): Promise<{ updates: Update[]; cursor: number }> {
    const top = await this.db.selectFrom('updates').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
    const hi = Number(top?.m ?? 0);
    let after = q.afterId ?? 0;
    if (q.since !== undefined) {
      // Every entry newer than `since` has an id at least this one's (the smallest such id):
      // the read starts there (migration 051's index), not at the feed's first entry.
      // `id + 0`, not `id`: SQLite would walk the table in id order for min(id), past every row
      // when none is newer; the expression reads the (created_at, id) index's range instead.
      const first = await this.db.selectFrom('updates').select(sql<number | null>`min(id + 0)`.as('m')).where('created_at', '>', q.since).executeTakeFirst();
      if (first?.m === null || first?.m === undefined) return { updates: [], cursor: Math.max(hi, after) };
      after = Math.max(after, Number(first.m) - 1);
    }
    let query = this.db
      .selectFrom('updates')
      .selectAll()
      .where('id', '>', after)
      .where('id', '<=', hi)
      // Entries of a deleted conversation are never shown, even one appended while it was deleted.
      .where((eb) => eb.exists(eb.selectFrom('conversations').select('conversations.id').whereRef('conversations.id', '=', 'updates.conversation_id')));
    if (q.apiKeyId !== null) query = query.where('api_key_id', '=', q.apiKeyId);
    if (q.conversationId !== undefined) query = query.where('conversation_id', '=', q.conversationId);
    if (q.since !== undefined) query = query.where('created_at', '>', q.since);
    const rows = await query.orderBy('id').limit(q.limit).execute();
    const updates = rows.map(toUpdate);
    const last = updates[updates.length - 1];
    const cursor = updates.length === q.limit && last ? last.id : Math.max(hi, after);
    return { updates, cursor };
  }

  /**
   * Resolve true as soon as an entry matching `filter` is appended in this process, false after
   * `timeoutMs`, when `signal` aborts, or when {@link wakeAll} is called (shutdown).
   */
  waitFor(filter: (u: Update) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.stopped || signal?.aborted || timeoutMs <= 0) return resolve(false);
      const finish = (v: boolean) => {
        clearTimeout(timer);
        this.appended.off('update', onUpdate);
        this.appended.off('wake', onWake);
        signal?.removeEventListener('abort', onWake);
        resolve(v);
      };
      const onUpdate = (u: Update) => {
        if (filter(u)) finish(true);
      };
      const onWake = () => finish(false);
      const timer = setTimeout(onWake, timeoutMs);
      this.appended.on('update', onUpdate);
      this.appended.on('wake', onWake);
      signal?.addEventListener('abort', onWake, { once: true });
    });
  }

  /** Release every waiting long-poll now and wait no more (shutdown), so the server can close. */
  wakeAll(): void {
    this.stopped = true;
    this.appended.emit('wake');
  }

  /** How many long-polls are waiting right now. */
  get waiting(): number {
    return this.appended.listenerCount('update');
  }

  /** Delete entries created before `olderThan` (epoch ms; retention); returns how many. Cursors stay valid: ids only grow. */
  async prune(olderThan: number): Promise<number> {
    const r = await this.db.deleteFrom('updates').where('created_at', '<', new Date(olderThan).toISOString()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async deleteForConversation(conversationId: string): Promise<void> {
    await this.db.deleteFrom('updates').where('conversation_id', '=', conversationId).execute();
  }
}
