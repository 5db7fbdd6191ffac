import type { Conversation } from '../core/types.js';
import type { Engine } from '../engine/index.js';
import type { Store } from '../store/index.js';

/**
 * Conversation management every HTTP dialect shares (v1's DELETE and clear, seed 003's
 * DELETE and clear), so "delete" and "clear" mean the same thing whichever API is asked.
 * Callers check visibility first (services/access.ts).
 */

/**
 * Delete a conversation and its messages for good, together with its updates-feed entries.
 * Serialized with the conversation's turns, so an in-flight reply finishes (and is stored)
 * before the rows go, instead of failing halfway.
 */
export async function deleteConversation(store: Store, engine: Engine, conv: Pick<Conversation, 'id'>): Promise<void> {
  await engine.serialized(conv.id, async () => {
    await store.updates.deleteForConversation(conv.id);
    await store.conversations.delete(conv.id);
  });
}

/** Hide every message so far from the model; history stays readable. Serialized like delete. */
export async function clearConversation(store: Store, engine: Engine, conv: Pick<Conversation, 'id'>): Promise<void> {
  await engine.serialized(conv.id, () => store.conversations.clearContext(conv.id));
}
