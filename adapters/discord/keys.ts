/**
 * Discord conversation keys ↔ where messages go. A guild channel is `discord:<channel>`, a thread
 * `discord:<parent channel>:thread:<thread>` (so it inherits the channel's settings), a DM
 * `discord:<DM channel>` — which is also where proactive messages to that user go. Per-user scope
 * adds `:user:<id>`. The keys are stored, so their shape never changes.
 *
 * A DM channel id looks like any other channel id, so the key cannot say whether it names a DM;
 * only webhooks care (DMs have none), and the channel surface asks Discord when it needs to know.
 */
import type { KeyCodec } from '../../src/core/adapter.js';
import { keyError } from '../shared/conversation.js';

/** A Discord channel or thread to post in. */
export interface DiscordTarget {
  /** The channel, or the thread, messages are posted in. */
  channelId: string;
  /** For a thread, its parent channel (webhooks belong to the parent). */
  parentId?: string | undefined;
  /** Whose conversation this is inside a shared channel (per-user scope). */
  userId?: string | undefined;
}

/** A Discord id (snowflake) as text. */
export const SNOWFLAKE = /^\d{1,20}$/;

export const discordKeys: KeyCodec<DiscordTarget> = {
  encode(t) {
    return {
      platform: 'discord',
      ...(t.parentId ? { chatId: t.parentId, threadId: t.channelId } : { chatId: t.channelId }),
      ...(t.userId !== undefined ? { userId: t.userId } : {}),
    };
  },
  decode(key) {
    if (key.platform !== 'discord') throw keyError(key, 'not a Discord conversation');
    if (!SNOWFLAKE.test(key.chatId)) throw keyError(key, 'the channel id is not a Discord id');
    if (key.threadId !== undefined && !SNOWFLAKE.test(key.threadId)) throw keyError(key, 'the thread id is not a Discord id');
    return {
      ...(key.threadId !== undefined ? { channelId: key.threadId, parentId: key.chatId } : { channelId: key.chatId }),
      ...(key.userId !== undefined ? { userId: key.userId } : {}),
    };
  },
};
