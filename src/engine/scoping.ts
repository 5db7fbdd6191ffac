import { chatKeyOf, decodeKey, encodeKey, type ConversationKey } from '../core/conversation-key.js';
import type { Conversation, InboundMessage } from '../core/types.js';
import type { ChatSettings } from '../store/index.js';

/**
 * Which conversation a message belongs to: a DM is one conversation per user; a group is one
 * shared conversation, or one per user when its scope is `per-user`; a thread (forum topic,
 * Discord/Slack thread) is its own conversation, scoped the same way as its parent chat.
 */
export function conversationKeyFor(
  msg: Pick<InboundMessage, 'platform' | 'chatId' | 'chatType' | 'threadId' | 'userId'>,
  settings: ChatSettings,
): ConversationKey {
  const key: ConversationKey = { platform: msg.platform, chatId: msg.chatId };
  if (msg.chatType === 'dm') return key;
  if (msg.chatType === 'thread' && msg.threadId !== undefined) key.threadId = msg.threadId;
  if (settings.scope === 'per-user') key.userId = msg.userId;
  return key;
}

/** Settings live on the chat; threads inherit their parent chat's. */
export function chatKeyFor(msg: Pick<InboundMessage, 'platform' | 'chatId'>): string {
  return encodeKey({ platform: msg.platform, chatId: msg.chatId });
}

/** Where to look for a character binding, most specific first. */
export function bindingKeysFor(msg: Pick<InboundMessage, 'platform' | 'chatId' | 'threadId' | 'chatType'>): string[] {
  const chat = chatKeyFor(msg);
  if (msg.chatType === 'thread' && msg.threadId !== undefined) {
    return [encodeKey({ platform: msg.platform, chatId: msg.chatId, threadId: msg.threadId }), chat];
  }
  return [chat];
}

/**
 * The queue a conversation's turns wait in: its chat (or thread) for platform conversations, so
 * platform messages, proactive messages and API calls in one chat never overlap; the
 * conversation itself for API sessions.
 */
export function serialKeyFor(conv: Pick<Conversation, 'id' | 'platform' | 'scopeKey'>): string {
  if (conv.platform === 'api' || !conv.scopeKey) return `conv:${conv.id}`;
  return chatKeyOf(decodeKey(conv.scopeKey));
}

/** Where a stored conversation looks for a character binding (its thread, then its chat). */
export function bindingKeysForScope(scopeKey: string | null): string[] {
  if (!scopeKey) return [];
  const key = decodeKey(scopeKey);
  const chat = encodeKey({ platform: key.platform, chatId: key.chatId });
  return key.threadId !== undefined ? [chatKeyOf(key), chat] : [chat];
}
