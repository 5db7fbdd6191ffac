import type { Engine } from '../engine/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { adminCaller, keyCaller, type Caller } from './access.js';
import type { ChatMode, ChatService } from './chat.js';
import type { NewConversation } from './conversations.js';

/**
 * An API turn as recorded when it is accepted, with its credit reservation: everything another
 * process needs to finish it if this one dies.
 */
export interface ApiTurnRecord {
  /** The caller: an API key id, or 'admin'. */
  keyId: string;
  /** The key whose credits are reserved; null for the admin. */
  apiKeyId: string | null;
  characterId: string;
  /** The session it continues, or the one it creates once admitted. */
  conversation: { id: string } | { new: NewConversation };
  chatType: 'dm' | 'group' | 'thread';
  userName: string;
  text: string;
  imageUrls: string[];
  author: { id: string; name: string } | null;
  /** The user's persona for this turn (kept so a recovered turn answers the same person). */
  persona?: { name: string | null; description: string | null };
  cost: number;
  mode: ChatMode;
}

/**
 * Finish the API turns a dead process had accepted: each runs again through the engine — the
 * stored user message and, if the model had answered, the stored reply are reused, never asked
 * for twice — and its answer (or why it failed, with its credits released) goes to the caller's
 * updates feed, where a client whose request was cut off looks. A turn whose key, character or
 * conversation is gone is closed and its credits released.
 */
export async function recoverApiTurns(chat: ChatService, engine: Engine, store: Store, log: Logger): Promise<number> {
  let n = 0;
  for (const row of await engine.takeOverAbandoned('api')) {
    let record: ApiTurnRecord;
    try {
      record = JSON.parse(row.payload) as ApiTurnRecord;
      // The terminal chat's messages share the platform name but are not API turns: nothing to resume.
      if (typeof record?.characterId !== 'string' || typeof record.conversation !== 'object' || !record.conversation) throw new Error('not an API turn');
    } catch {
      await store.events.complete('api', row.eventId);
      continue;
    }
    const caller = await callerOf(store, record);
    const character = await store.characters.get(record.characterId);
    const existing = 'id' in record.conversation ? await store.conversations.get(record.conversation.id) : undefined;
    if (!caller || !character || ('id' in record.conversation && !existing)) {
      const { apiKeyId, cost } = record;
      if (apiKeyId) await store.events.close('api', row.eventId, (tx) => store.apiKeys.release(apiKeyId, cost, tx));
      else await store.events.complete('api', row.eventId);
      log.warn({ eventId: row.eventId }, 'an unfinished API turn lost its key, character or session; its credits are released');
      continue;
    }
    try {
      const turn = await chat.run(caller, character, existing, record, { eventId: row.eventId, payload: row.payload, resumed: true });
      await turn.outcome;
      n++;
    } catch (err) {
      log.error({ err, eventId: row.eventId }, 'could not finish an API turn a stopped process had accepted');
    }
  }
  return n;
}

async function callerOf(store: Store, record: ApiTurnRecord): Promise<Caller | undefined> {
  if (!record.apiKeyId) return record.keyId === adminCaller.keyId ? adminCaller : undefined;
  const key = await store.apiKeys.get(record.apiKeyId);
  return key ? keyCaller(key) : undefined;
}
