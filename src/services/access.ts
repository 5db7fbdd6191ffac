import { createHash, timingSafeEqual } from 'node:crypto';
import { ADMIN_OWNER } from '../core/ids.js';
import type { Character, Conversation } from '../core/types.js';
import { ForbiddenError, NotFoundError, RateLimitedError, UnauthorizedError } from '../core/errors.js';
import type { RateLimits } from '../engine/index.js';
import type { ApiKey, Store } from '../store/index.js';

/** Owner id of characters and conversations the admin key creates (it has no api_keys row). */
export const ADMIN_ID = ADMIN_OWNER;

/**
 * Who is calling the HTTP API: an API key (a tenant) or the admin. Every HTTP dialect
 * authenticates to one of these, so tenancy rules live here once.
 */
export interface Caller {
  /** The API key id, or 'admin'. Owner id of what this caller creates. */
  keyId: string;
  isAdmin: boolean;
  /** The key's row; null for the admin, who has no credit limit. */
  apiKey: ApiKey | null;
}

/** The admin caller (ADMIN_API_KEY). */
export const adminCaller: Caller = { keyId: ADMIN_ID, isAdmin: true, apiKey: null };

/** A caller for an API key row. */
export function keyCaller(apiKey: ApiKey): Caller {
  return { keyId: apiKey.id, isAdmin: false, apiKey };
}

/** Can `caller` see `c`? Presets, public characters and its own; the admin sees everything. */
export function canSeeCharacter(caller: Caller, c: Character): boolean {
  return caller.isAdmin || c.isPreset || c.isPublic || c.ownerId === caller.keyId;
}

/**
 * A character by id or slug among what `caller` may see. Anything else is a 404, never a 403,
 * so one tenant cannot probe for another tenant's private characters.
 */
export async function visibleCharacter(store: Store, caller: Caller, ref: string): Promise<Character> {
  // canSeeCharacter's rule, in the store's one lookup: the admin sees any character by id.
  const c = await store.characters.findVisible(ref, caller.keyId, { anyById: caller.isAdmin });
  if (c) return c;
  throw new NotFoundError('Character', 'CHARACTER_NOT_FOUND');
}

/** A character `caller` may change or delete: its own (any non-preset for the admin). */
export async function ownedCharacter(store: Store, caller: Caller, ref: string): Promise<Character> {
  const c = await visibleCharacter(store, caller, ref);
  if (c.isPreset) throw new ForbiddenError('Preset characters cannot be changed or deleted; create your own instead');
  if (!caller.isAdmin && c.ownerId !== caller.keyId) throw new ForbiddenError('Only the owner of a character can change or delete it');
  return c;
}

/** Can `caller` see conversation `c`? Its own API sessions; the admin sees every conversation. */
export function canSeeConversation(caller: Caller, c: Conversation): boolean {
  return caller.isAdmin || (c.platform === 'api' && c.ownerId === caller.keyId);
}

/** A conversation `caller` may read and manage; another tenant's is a 404. */
export async function visibleConversation(store: Store, caller: Caller, id: string): Promise<Conversation> {
  const c = await store.conversations.get(id);
  if (!c || !canSeeConversation(caller, c)) throw new NotFoundError('Conversation', 'CONVERSATION_NOT_FOUND');
  return c;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Who presents a key: the admin (ADMIN_API_KEY, compared in constant time over SHA-256 digests,
 * so lengths do not leak either) or a tenant (looked up by its hash, so the plaintext never
 * touches the database). Anything else is a 401. Every request of a tenant key takes one point
 * of its per-minute budget, whatever it asks for; over it, a 429. The admin (the operator) is
 * not limited.
 */
export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly adminApiKey: string | undefined,
    private readonly limits: RateLimits,
    private readonly perMinute: number,
  ) {}

  /** The caller of one request: who the key is, charged one point of its per-minute budget. */
  async callerFor(key: string | undefined): Promise<Caller> {
    if (!key) throw new UnauthorizedError('Missing API key: send it as x-api-key or Authorization: Bearer <key>');
    const caller = await this.identify(key);
    await this.charge(caller);
    return caller;
  }

  /** Who a key stands for (the admin, or an enabled tenant key), without charging anything; else 401. */
  async identify(key: string): Promise<Caller> {
    if (this.adminApiKey && timingSafeEqual(digest(key), digest(this.adminApiKey))) return adminCaller;
    const apiKey = key.length <= 512 ? await this.store.apiKeys.findByKey(key) : undefined;
    if (!apiKey) throw new UnauthorizedError('Invalid API key');
    if (apiKey.disabled) throw new UnauthorizedError('This API key is disabled');
    return keyCaller(apiKey);
  }

  /** Take one point of a tenant's per-minute budget for a request; over it, a 429. */
  async charge(caller: Caller): Promise<void> {
    if (caller.isAdmin) return;
    const r = await this.limits.consume(`apikey:${caller.keyId}`, this.perMinute);
    if (!r.ok) throw new RateLimitedError(r.retryAfterMs);
  }

  /** Take one attempt from a budget of `perMinute` for `key` (sign-ins per address). */
  async attempt(key: string, perMinute: number, message: string): Promise<void> {
    const r = await this.limits.consume(key, perMinute);
    if (!r.ok) throw new RateLimitedError(r.retryAfterMs, message);
  }
}
