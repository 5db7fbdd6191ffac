import { decodeKey, encodeKey } from '../core/conversation-key.js';
import type { Character, Conversation } from '../core/types.js';
import type { MemoryOwner } from '../store/index.js';

/**
 * Whose memory a conversation reads and writes: its scope without the thread (a thread shares
 * its group's facts; a DM, a group and a per-user group scope are each their own), or
 * `session:<id>` for an API session addressed by id. API user/group conversations already carry
 * the tenant key and the user or group in their scope. Always per character.
 */
export function memoryOwnerOf(conv: Pick<Conversation, 'id' | 'scopeKey'>, character: Pick<Character, 'id'>): MemoryOwner {
  return { ownerKey: ownerKeyOf(conv), characterId: character.id };
}

export function ownerKeyOf(conv: Pick<Conversation, 'id' | 'scopeKey'>): string {
  if (!conv.scopeKey) return `session:${conv.id}`;
  const k = decodeKey(conv.scopeKey);
  return encodeKey({ platform: k.platform, chatId: k.chatId, ...(k.userId !== undefined ? { userId: k.userId } : {}) });
}

/** A conversation everyone in a chat shares (group, not per-user): only chat admins change its memory. */
export function isSharedChat(conv: Pick<Conversation, 'scopeKey' | 'chatType'>): boolean {
  if (conv.chatType === 'dm') return false;
  return !conv.scopeKey || decodeKey(conv.scopeKey).userId === undefined;
}

/** Words of a text worth comparing (lower case, 4+ letters), for matching facts to messages and sentences. */
export function significantWords(text: string): Set<string> {
  return new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length >= 4));
}
