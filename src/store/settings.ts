import type { Clock } from '../core/clock.js';
import type { DB } from './db.js';
import { prepared } from './prepared.js';

const chatSettingsOf = prepared((db, p: { chatKey: string }) => db.selectFrom('chat_settings').selectAll().where('chat_key', '=', p.chatKey));
const bindingsOf = prepared((db, p: { keys: readonly string[] }) => db.selectFrom('bindings').select(['key', 'character_id']).where('key', 'in', p.keys));

export type Scope = 'shared' | 'per-user';
export type Engage = 'mention' | 'always';

export interface ChatSettings {
  scope: Scope;
  engage: Engage;
  /** Per-user messages per minute in this chat; null means the configured default. */
  userLimitPerMin: number | null;
}

export const DEFAULT_CHAT_SETTINGS: ChatSettings = { scope: 'shared', engage: 'mention', userLimitPerMin: null };

/**
 * Per-chat settings (scope, engagement, limit) and character bindings. Bindings are keyed by an
 * encoded chat key (group binding) or `platform:*` (platform default).
 */
export class SettingsRepo {
  constructor(private db: DB, private clock: Clock) {}

  async getChat(chatKey: string): Promise<ChatSettings> {
    const r = await chatSettingsOf.first(this.db, { chatKey });
    if (!r) return { ...DEFAULT_CHAT_SETTINGS };
    return { scope: r.scope as Scope, engage: r.engage as Engage, userLimitPerMin: r.user_limit_per_min };
  }

  async setChat(chatKey: string, patch: Partial<ChatSettings>): Promise<ChatSettings> {
    const next = { ...(await this.getChat(chatKey)), ...patch };
    const now = new Date(this.clock.now()).toISOString();
    const row = { scope: next.scope, engage: next.engage, user_limit_per_min: next.userLimitPerMin, updated_at: now };
    await this.db
      .insertInto('chat_settings')
      .values({ chat_key: chatKey, ...row })
      .onConflict((oc) => oc.column('chat_key').doUpdateSet(row))
      .execute();
    return next;
  }

  async getBinding(key: string): Promise<string | undefined> {
    return (await this.getBindings([key])).get(key);
  }

  /** The bindings of several keys in one read (a chat's thread, chat and platform default). */
  async getBindings(keys: readonly string[]): Promise<Map<string, string>> {
    if (!keys.length) return new Map();
    const rows = await bindingsOf.rows(this.db, { keys });
    return new Map(rows.map((r) => [r.key, r.character_id]));
  }

  async setBinding(key: string, characterId: string): Promise<void> {
    const now = new Date(this.clock.now()).toISOString();
    await this.db
      .insertInto('bindings')
      .values({ key, character_id: characterId, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ character_id: characterId, updated_at: now }))
      .execute();
  }
}
