import type { Platform } from './types.js';
import { PLATFORMS } from './types.js';

/**
 * Identity of a platform conversation, encoded as a readable string such as
 * `telegram:-100123:thread:7` or `discord:998877:user:42`. Components are percent-escaped so
 * ids that contain `:` (or `%`) survive the round trip.
 */
export interface ConversationKey {
  platform: Platform;
  chatId: string;
  threadId?: string;
  /** Set when the conversation belongs to one user inside a shared chat (per-user scope). */
  userId?: string;
}

const esc = (s: string) => s.replace(/%/g, '%25').replace(/:/g, '%3A');
const unesc = (s: string) => s.replace(/%3A/gi, ':').replace(/%25/g, '%');

/** @example encodeKey({ platform: 'telegram', chatId: '-100123', threadId: '7' }) // 'telegram:-100123:thread:7' */
export function encodeKey(key: ConversationKey): string {
  let out = `${key.platform}:${esc(key.chatId)}`;
  if (key.threadId !== undefined) out += `:thread:${esc(key.threadId)}`;
  if (key.userId !== undefined) out += `:user:${esc(key.userId)}`;
  return out;
}

/** Inverse of encodeKey; throws on anything encodeKey cannot produce. */
export function decodeKey(encoded: string): ConversationKey {
  const parts = encoded.split(':');
  const [platform, chatId, ...rest] = parts;
  if (!platform || chatId === undefined || !PLATFORMS.includes(platform as Platform)) {
    throw new Error(`Not a conversation key: ${encoded}`);
  }
  const key: ConversationKey = { platform: platform as Platform, chatId: unesc(chatId) };
  for (let i = 0; i < rest.length; i += 2) {
    const tag = rest[i];
    const value = rest[i + 1];
    if (value === undefined) throw new Error(`Not a conversation key: ${encoded}`);
    if (tag === 'thread' && key.threadId === undefined && key.userId === undefined) key.threadId = unesc(value);
    else if (tag === 'user' && key.userId === undefined) key.userId = unesc(value);
    else throw new Error(`Not a conversation key: ${encoded}`);
  }
  return key;
}

/** The key of the chat (or thread) itself, without a user: where group settings live. */
export function chatKeyOf(key: ConversationKey): string {
  return encodeKey({ platform: key.platform, chatId: key.chatId, ...(key.threadId !== undefined ? { threadId: key.threadId } : {}) });
}
