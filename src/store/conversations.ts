import type { ChatType, Conversation, Platform } from '../core/types.js';
import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import type { DB } from './db.js';
import type { SqlDialect } from './dialect.js';
import type { ConversationRow } from './schema.js';
import { prepared } from './prepared.js';

/** The columns a Conversation is made of (the proactive ones are read by the scheduler's repository). */
type ConversationFields = Pick<
  ConversationRow,
  | 'id' | 'scope_key' | 'platform' | 'chat_type' | 'owner_id' | 'character_id' | 'context_start_seq' | 'metadata' | 'message_count'
  | 'created_at' | 'updated_at' | 'last_user_at' | 'last_assistant_at'
>;

export function toConversation(r: ConversationFields): Conversation {
  return {
    id: r.id,
    scopeKey: r.scope_key,
    platform: r.platform as Platform,
    chatType: r.chat_type as ChatType,
    ownerId: r.owner_id,
    characterId: r.character_id,
    contextStartSeq: r.context_start_seq,
    metadata: r.metadata ? (JSON.parse(r.metadata) as Record<string, unknown>) : null,
    messageCount: r.message_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastActivityAt: [r.last_user_at, r.last_assistant_at].filter((t): t is string => t !== null).sort().at(-1) ?? null,
  };
}

/** Filters of the conversation list. */
export interface ConversationListQuery {
  /** Only this owner's conversations (an API key's sessions); undefined lists everyone's (admin). */
  ownerId?: string | undefined;
  platform?: Platform | undefined;
  characterId?: string | undefined;
  /** Only conversations updated strictly after this ISO time (the bot chat API's `since`). */
  updatedAfter?: string | undefined;
  /** Only conversations updated strictly before this ISO time. */
  updatedBefore?: string | undefined;
  /**
   * Only conversations whose metadata has these top-level values (the user/group chat API's userId/groupId);
   * null matches a missing or null value.
   */
  metadata?: Record<string, string | null> | undefined;
  page: number;
  limit: number;
  /** Rows to skip, for offset-paged dialects; overrides `page`. */
  offset?: number | undefined;
}

/** A conversation with the newest visible message, for list views. */
export interface ConversationSummary extends Conversation {
  /** The newest user or character message, as stored (callers shorten it). */
  preview: string | null;
}

const byId = prepared((db, p: { id: string }) => db.selectFrom('conversations').selectAll().where('id', '=', p.id));
const byScope = prepared((db, p: { scopeKey: string }) => db.selectFrom('conversations').selectAll().where('scope_key', '=', p.scopeKey));

/** Conversations: platform ones found by their encoded scope key, API ones by id. */
export class ConversationRepo {
  constructor(private db: DB, private clock: Clock, private dialect: SqlDialect) {}

  async get(id: string): Promise<Conversation | undefined> {
    const r = await byId.first(this.db, { id });
    return r && toConversation(r);
  }

  async getByScope(scopeKey: string): Promise<Conversation | undefined> {
    const r = await byScope.first(this.db, { scopeKey });
    return r && toConversation(r);
  }

  /** The conversation for a scope key, created on first use; safe against two callers racing. */
  async getOrCreateByScope(
    scopeKey: string,
    init: { platform: Platform; chatType: ChatType; ownerId?: string | null; characterId?: string | null; metadata?: Record<string, unknown> | null },
  ): Promise<Conversation> {
    const existing = await this.getByScope(scopeKey);
    if (existing) return existing;
    await this.db
      .insertInto('conversations')
      .values(this.newRow({ ...init, scopeKey }))
      .onConflict((oc) => oc.column('scope_key').doNothing())
      .execute();
    return (await this.getByScope(scopeKey))!;
  }

  /**
   * A new conversation addressed by id (API sessions). A pre-made `id` that is taken already
   * means its turn is being run again after a crash: that conversation is returned.
   */
  async create(init: {
    /** A pre-made id (one already recorded with the turn that creates it). */
    id?: string;
    platform: Platform;
    chatType: ChatType;
    ownerId: string | null;
    characterId: string | null;
    scopeKey?: string | null;
    metadata?: Record<string, unknown> | null;
  }): Promise<Conversation> {
    const row = { ...this.newRow(init), ...(init.id ? { id: init.id } : {}) };
    const insert = this.db.insertInto('conversations').values(row);
    const r = await (init.id ? insert.onConflict((oc) => oc.column('id').doNothing()) : insert).executeTakeFirst();
    // Made from what was written: a new session costs one statement, not a write and two reads.
    if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) return toConversation(row);
    return (await this.get(row.id))!;
  }

  /**
   * Newest-updated first. The preview is a correlated subquery that reads one row per
   * conversation through the (conversation_id, seq) index.
   */
  async list(q: ConversationListQuery): Promise<{ conversations: ConversationSummary[]; total: number }> {
    let base = this.db.selectFrom('conversations');
    if (q.ownerId !== undefined) base = base.where('owner_id', '=', q.ownerId);
    if (q.platform !== undefined) base = base.where('platform', '=', q.platform);
    if (q.characterId !== undefined) base = base.where('character_id', '=', q.characterId);
    if (q.updatedAfter !== undefined) base = base.where('updated_at', '>', q.updatedAfter);
    if (q.updatedBefore !== undefined) base = base.where('updated_at', '<', q.updatedBefore);
    for (const [field, value] of Object.entries(q.metadata ?? {})) {
      base = base.where(this.dialect.jsonFieldIs('conversations.metadata', field.replace(/[^A-Za-z0-9_]/g, ''), value));
    }
    const count = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base
      .selectAll('conversations')
      .select((eb) =>
        eb
          .selectFrom('messages')
          .select('messages.content')
          .whereRef('messages.conversation_id', '=', 'conversations.id')
          .where('messages.kind', '!=', 'system-notice')
          .orderBy('messages.seq', 'desc')
          .limit(1)
          .as('preview'),
      )
      .orderBy('conversations.updated_at', 'desc')
      .orderBy('conversations.id')
      .limit(q.limit)
      .offset(q.offset ?? (q.page - 1) * q.limit)
      .execute();
    return {
      conversations: rows.map((r) => ({ ...toConversation(r), preview: r.preview ?? null })),
      total: Number(count.n),
    };
  }

  async setCharacter(id: string, characterId: string | null): Promise<void> {
    await this.db.updateTable('conversations').set({ character_id: characterId }).where('id', '=', id).execute();
  }

  async setMetadata(id: string, metadata: Record<string, unknown> | null): Promise<void> {
    await this.db.updateTable('conversations').set({ metadata: metadata ? JSON.stringify(metadata) : null }).where('id', '=', id).execute();
  }

  /** Hide every message so far from the model; the rows stay for audit and history. */
  async clearContext(id: string): Promise<void> {
    const max = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.max('seq').as('m'))
      .where('conversation_id', '=', id)
      .executeTakeFirst();
    await this.db
      .updateTable('conversations')
      .set({ context_start_seq: Number(max?.m ?? 0), updated_at: new Date(this.clock.now()).toISOString() })
      .where('id', '=', id)
      .execute();
  }

  /**
   * A platform's conversations active within the last `withinMs`, most recent first, each with the
   * source event of its newest stored user message: where an adapter catches up on what its
   * platform sent while no process listened. Conversations without such a message are left out.
   */
  async recentChats(platform: Platform, withinMs: number, limit: number): Promise<Array<{ scopeKey: string; lastEvent: string }>> {
    const since = new Date(this.clock.now() - withinMs).toISOString();
    const recent = this.db
      .selectFrom('conversations as c')
      .select((eb) => [
        'c.scope_key',
        'c.updated_at',
        eb
          .selectFrom('messages as m')
          .select('m.source_event')
          .whereRef('m.conversation_id', '=', 'c.id')
          .where('m.role', '=', 'user')
          .where('m.source_event', 'is not', null)
          .orderBy('m.seq', 'desc')
          .limit(1)
          .as('last_event'),
      ])
      .where('c.platform', '=', platform)
      .where('c.updated_at', '>=', since)
      .where('c.scope_key', 'is not', null);
    const rows = await this.db
      .selectFrom(recent.as('r'))
      .select(['r.scope_key', 'r.last_event'])
      .where('r.last_event', 'is not', null)
      .orderBy('r.updated_at', 'desc')
      .limit(limit)
      .execute();
    return rows.flatMap((r) => (r.scope_key && r.last_event ? [{ scopeKey: r.scope_key, lastEvent: r.last_event }] : []));
  }

  /** Delete a conversation and (by cascade) its messages, for good. */
  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('conversations').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Delete a conversation only while it holds no message (one made for a turn that was then undone). */
  async deleteIfEmpty(id: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('conversations')
      .where('id', '=', id)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('messages').select('messages.id').where('messages.conversation_id', '=', id))))
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  private newRow(init: {
    platform: Platform;
    chatType: ChatType;
    ownerId?: string | null;
    characterId?: string | null;
    scopeKey?: string | null;
    metadata?: Record<string, unknown> | null;
  }): ConversationFields {
    const now = new Date(this.clock.now()).toISOString();
    return {
      id: newId('conv'),
      scope_key: init.scopeKey ?? null,
      platform: init.platform,
      chat_type: init.chatType,
      owner_id: init.ownerId ?? null,
      character_id: init.characterId ?? null,
      context_start_seq: 0,
      metadata: init.metadata ? JSON.stringify(init.metadata) : null,
      message_count: 0,
      created_at: now,
      updated_at: now,
      last_user_at: null,
      last_assistant_at: null,
    };
  }
}
