import { decodeKey, encodeKey } from '../core/conversation-key.js';
import { ownerKeyOf } from '../memory/index.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import type { ChatType, Conversation, Platform, StoredMessage } from '../core/types.js';
import { conversationKeyFor, type Engine } from '../engine/index.js';
import { DEFAULT_CHAT_SETTINGS, type ConversationSummary, type Store } from '../store/index.js';
import { visibleConversation, type Caller } from './access.js';

/** How many messages a whole-history read returns (the newest ones, oldest first). */
export const HISTORY_LIMIT = 1000;

/**
 * What the API dialects keep in a conversation's metadata, side by side so they never clash:
 * a client-supplied object under `clientMetadata`, and the caller's own user and group ids as
 * `userId` and `groupId` (top level, so lists can filter on them).
 */
export interface ConversationMetadata {
  clientMetadata?: Record<string, unknown>;
  userId?: string | null;
  groupId?: string | null;
}

/** A client's metadata object, serialized, may take at most this much — also after merging. */
export const CLIENT_METADATA_MAX_BYTES = 16 * 1024;
/** Nesting the metadata object may have (the object itself is level 1). */
export const CLIENT_METADATA_MAX_DEPTH = 8;

/** Deeper than `max`? Stops descending past `max`, so a hostile nesting costs nothing. */
function deeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max <= 0) return true;
  return Object.values(value).some((v) => deeperThan(v, max - 1));
}

/** A 400 naming `metadata` unless `metadata` is within the bounds (nesting, serialized size). */
export function checkClientMetadata(metadata: Record<string, unknown>, what = 'metadata'): void {
  if (deeperThan(metadata, CLIENT_METADATA_MAX_DEPTH)) {
    throw new ValidationError(`${what} must be nested at most ${CLIENT_METADATA_MAX_DEPTH} levels deep`, { field: 'metadata' });
  }
  if (Buffer.byteLength(JSON.stringify(metadata)) > CLIENT_METADATA_MAX_BYTES) {
    throw new ValidationError(`${what} must be at most ${CLIENT_METADATA_MAX_BYTES} bytes as JSON`, { field: 'metadata' });
  }
}

/** A conversation's metadata read as ConversationMetadata. */
export function metadataOf(conv: Pick<Conversation, 'metadata'>): ConversationMetadata {
  return (conv.metadata ?? {}) as ConversationMetadata;
}

export interface ConversationQuery {
  platform?: Platform | undefined;
  characterId?: string | undefined;
  updatedAfter?: string | undefined;
  updatedBefore?: string | undefined;
  /** Only conversations with these identity values (null matches none set). */
  identity?: { userId?: string | null; groupId?: string | null } | undefined;
  page: number;
  limit: number;
  offset?: number | undefined;
}

/**
 * A conversation to create once a turn is admitted, written so it can be recorded with the turn
 * and created by whichever process finishes it: one found by its scope key (the API's own
 * user/group ids), or a new session with this id.
 */
export interface NewConversation {
  id?: string;
  scopeKey?: string;
  chatType: ChatType;
  metadata?: ConversationMetadata;
}

/** Find or create the conversation `spec` describes, owned by `ownerId`, with `characterId`. */
export async function createConversation(store: Store, spec: NewConversation, ownerId: string, characterId: string): Promise<Conversation> {
  const init = { platform: 'api' as const, chatType: spec.chatType, ownerId, characterId, metadata: spec.metadata ? { ...spec.metadata } : null };
  if (spec.scopeKey) {
    const c = await store.conversations.getOrCreateByScope(spec.scopeKey, init);
    if (c.ownerId !== ownerId) throw new NotFoundError('Conversation', 'CONVERSATION_NOT_FOUND');
    return c;
  }
  // A pre-made id may exist already (its turn is run again after a crash): create returns that one.
  return store.conversations.create({ ...init, ...(spec.id ? { id: spec.id } : {}) });
}

/**
 * Where a group's settings (its scope policy) live for one API key: the same kind of encoded
 * chat key a platform group has, with the key id inside so two tenants' "group 42" never meet.
 */
export function apiGroupChatKey(keyId: string, groupId: string): string {
  return encodeKey({ platform: 'api', chatId: `${keyId}/group/${groupId}` });
}

/**
 * Conversations as every HTTP API sees them, within the caller's tenancy: list, read, delete,
 * clear, and the conversation an API caller's own user/group ids map to. Delete and clear are
 * serialized with the conversation's turns, so an in-flight reply finishes (and is stored)
 * before the rows change.
 */
export class ConversationService {
  constructor(private readonly store: Store, private readonly engine: Engine) {}

  /** A conversation the caller may read and manage; another tenant's is a 404. */
  get(caller: Caller, id: string): Promise<Conversation> {
    return visibleConversation(this.store, caller, id);
  }

  /** The caller's conversations (the admin: everyone's, platform ones included), newest first. */
  list(caller: Caller, q: ConversationQuery): Promise<{ conversations: ConversationSummary[]; total: number }> {
    const metadata = q.identity && Object.fromEntries(Object.entries(q.identity).filter(([, v]) => v !== undefined));
    return this.store.conversations.list({
      ...(caller.isAdmin ? {} : { ownerId: caller.keyId }),
      platform: caller.isAdmin ? q.platform : 'api',
      characterId: q.characterId,
      updatedAfter: q.updatedAfter,
      updatedBefore: q.updatedBefore,
      ...(metadata ? { metadata: metadata as Record<string, string | null> } : {}),
      page: q.page,
      limit: q.limit,
      offset: q.offset,
    });
  }

  /** One page of history, oldest first, paging backwards from the message `before`. */
  async page(conv: Conversation, opts: { before?: string | undefined; limit: number }): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    let beforeSeq: number | undefined;
    if (opts.before !== undefined) {
      const anchor = await this.store.messages.get(opts.before);
      if (!anchor || anchor.conversationId !== conv.id) {
        throw new ValidationError('before must be the id of a message in this conversation', { field: 'before' });
      }
      beforeSeq = anchor.seq;
    }
    return this.store.messages.page(conv.id, { beforeSeq, limit: opts.limit });
  }

  /** The newest HISTORY_LIMIT user and character messages, oldest first (engine notices left out). */
  async history(conv: Conversation): Promise<StoredMessage[]> {
    return (await this.store.messages.page(conv.id, { limit: HISTORY_LIMIT })).messages;
  }

  /**
   * Gone for good: messages, updates-feed entries and what the characters remember of it too
   * (a thread's memory is its group's, which stays).
   */
  async delete(conv: Conversation): Promise<void> {
    await this.engine.serialized(conv, async () => {
      await this.store.updates.deleteForConversation(conv.id);
      if (!conv.scopeKey || decodeKey(conv.scopeKey).threadId === undefined) await this.store.memory.deleteOwner(ownerKeyOf(conv));
      await this.store.conversations.delete(conv.id);
    });
  }

  /** Hide every message so far from the model; history stays readable. */
  async clear(conv: Conversation): Promise<void> {
    await this.engine.serialized(conv, () => this.store.conversations.clearContext(conv.id));
  }

  /**
   * Before a turn runs: `metadata` is within bounds, and so is what it makes of the metadata of
   * session `sessionId` (when the caller may see it; the turn itself reports a session it may not).
   * A 400 naming `metadata` otherwise.
   */
  async checkClientMetadata(caller: Caller, sessionId: string | null | undefined, metadata: Record<string, unknown>): Promise<void> {
    checkClientMetadata(metadata);
    if (!sessionId) return;
    const conv = await visibleConversation(this.store, caller, sessionId).catch(() => undefined);
    if (conv) checkClientMetadata({ ...metadataOf(conv).clientMetadata, ...metadata }, 'metadata merged with the conversation’s');
  }

  /** Merge a client's metadata object (shallowly) into what the conversation keeps; a 400 naming `metadata` when that would pass the bounds. */
  async mergeClientMetadata(conv: Conversation, metadata: Record<string, unknown>): Promise<void> {
    const fresh = (await this.store.conversations.get(conv.id)) ?? conv;
    const meta = metadataOf(fresh);
    const merged = { ...meta.clientMetadata, ...metadata };
    checkClientMetadata(merged, 'metadata merged with the conversation’s');
    await this.store.conversations.setMetadata(conv.id, { ...meta, clientMetadata: merged });
  }

  /** The conversation continues with another character from the next message on, history kept. */
  async switchCharacter(conv: Conversation, characterId: string): Promise<void> {
    if (conv.characterId !== characterId) await this.store.conversations.setCharacter(conv.id, characterId);
  }

  /**
   * The conversation an API caller's own user and group ids map to, the way platform users and
   * groups map: one per user; per group one shared, or one per user when the group's scope is
   * `per-user`. Returns the existing one, or how to create it (so a refused turn creates none).
   */
  async forIdentity(
    caller: Caller,
    ids: { userId: string; groupId?: string | undefined },
  ): Promise<{ existing: Conversation | undefined; spec: NewConversation }> {
    const { userId, groupId } = ids;
    const chatType: ChatType = groupId === undefined ? 'dm' : 'group';
    const chatId = groupId === undefined ? `${caller.keyId}/user/${userId}` : `${caller.keyId}/group/${groupId}`;
    const settings = groupId === undefined ? DEFAULT_CHAT_SETTINGS : await this.store.settings.getChat(apiGroupChatKey(caller.keyId, groupId));
    const scopeKey = encodeKey(conversationKeyFor({ platform: 'api', chatId, chatType, userId }, settings));
    const perUser = groupId === undefined || settings.scope === 'per-user';
    const metadata: ConversationMetadata = { userId: perUser ? userId : null, groupId: groupId ?? null };
    const existing = await this.store.conversations.getByScope(scopeKey);
    if (existing && existing.ownerId !== caller.keyId) throw new NotFoundError('Conversation', 'CONVERSATION_NOT_FOUND');
    return { existing, spec: { scopeKey, chatType, metadata: { ...metadata } } };
  }
}
