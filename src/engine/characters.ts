import type { Character, Conversation, Platform } from '../core/types.js';
import { NotFoundError } from '../core/errors.js';
import type { Store } from '../store/index.js';
import { countTokens } from '../llm/index.js';

/**
 * Which character speaks in a conversation: its own binding → the chat's (thread, then parent
 * chat) → the platform default (`platform:*`) → the configured global default preset.
 */
export async function resolveCharacter(
  store: Store,
  conv: Conversation,
  chatKeys: string[],
  platform: Platform,
  defaultRef: string,
): Promise<Character> {
  const tryId = async (id: string | null | undefined) => (id ? store.characters.get(id) : undefined);
  const bound = await tryId(conv.characterId);
  if (bound) return bound;
  // Every binding that could apply, in one read; the most specific one whose character exists wins.
  const keys = [...chatKeys, `${platform}:*`];
  const bindings = await store.settings.getBindings(keys);
  for (const key of keys) {
    const c = await tryId(bindings.get(key));
    if (c) return c;
  }
  return globalDefault(store, defaultRef);
}

/** The configured default preset (by slug or id), else the first preset. */
export async function globalDefault(store: Store, defaultRef: string): Promise<Character> {
  const c = (await store.characters.findVisible(defaultRef, null)) ?? (await store.characters.listShared(1))[0];
  if (!c) throw new NotFoundError('Default character');
  return c;
}

/** Store the character's greeting as its own opening line of the conversation (a card's first message, `/start`). */
export async function storeGreeting(store: Store, conversation: Pick<Conversation, 'id'>, character: Pick<Character, 'id' | 'name'>, text: string): Promise<void> {
  await store.messages.append({
    conversationId: conversation.id,
    role: 'assistant',
    kind: 'assistant',
    content: text,
    tokenCount: countTokens(text),
    authorId: character.id,
    authorName: character.name,
  });
}
