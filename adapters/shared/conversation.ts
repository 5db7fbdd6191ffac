/**
 * The conversation key of the chat (or thread) a message was written in, as the adapters' key
 * codecs read it: replies find their target through the same `decode` as proactive messages.
 * Per-user scope is the engine's decision, so the key has no user.
 */
import type { ConversationKey } from '../../src/core/conversation-key.js';
import type { InboundMessage } from '../../src/core/types.js';

export function chatOf(msg: Pick<InboundMessage, 'platform' | 'chatId' | 'threadId'>): ConversationKey {
  return { platform: msg.platform, chatId: msg.chatId, ...(msg.threadId !== undefined ? { threadId: msg.threadId } : {}) };
}

/** The error a key codec throws for a key it cannot address, naming the key and what is wrong. */
export function keyError(key: ConversationKey, what: string): Error {
  const parts = [key.platform, key.chatId, key.threadId && `thread ${key.threadId}`, key.userId && `user ${key.userId}`].filter(Boolean).join(' ');
  return new Error(`Cannot address conversation (${parts}): ${what}`);
}
