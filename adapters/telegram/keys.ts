/**
 * Telegram conversation keys ↔ where messages go. Keys look like `telegram:42` (a private chat),
 * `telegram:-100123` (a group), `telegram:-100123:thread:7` (a forum topic) and, under per-user
 * scope, `…:user:42`; they are stored, so their shape never changes.
 */
import type { KeyCodec } from '../../src/core/adapter.js';
import type { ConversationKey } from '../../src/core/conversation-key.js';
import { keyError } from '../shared/conversation.js';

/** A Telegram chat (and forum topic) to send to. */
export interface TelegramTarget {
  chatId: number;
  /** The forum topic. */
  threadId?: number | undefined;
  /** Whose conversation this is inside a group (per-user scope); messages still go to the chat. */
  userId?: string | undefined;
  /** A private chat, where drafts can stream the preview. */
  isPrivate: boolean;
}

/** Users (private chats) have positive ids; groups, supergroups and channels negative ones. */
export function isPrivateChat(chatId: number): boolean {
  return chatId > 0;
}

/** A Bot API id as the key stores it: a canonical integer string. */
function id(key: ConversationKey, value: string, what: string): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || String(n) !== value) throw keyError(key, `the ${what} is not a Telegram id`);
  return n;
}

export const telegramKeys: KeyCodec<TelegramTarget> = {
  encode(t) {
    return {
      platform: 'telegram',
      chatId: String(t.chatId),
      ...(t.threadId !== undefined ? { threadId: String(t.threadId) } : {}),
      ...(t.userId !== undefined ? { userId: t.userId } : {}),
    };
  },
  decode(key) {
    if (key.platform !== 'telegram') throw keyError(key, 'not a Telegram conversation');
    const chatId = id(key, key.chatId, 'chat id');
    return {
      chatId,
      ...(key.threadId !== undefined ? { threadId: id(key, key.threadId, 'topic id') } : {}),
      ...(key.userId !== undefined ? { userId: key.userId } : {}),
      isPrivate: isPrivateChat(chatId),
    };
  },
};
