/**
 * Slack conversation keys ↔ where messages go. A DM is `slack:<D… channel>`, a channel thread
 * `slack:<channel>:thread:<root ts>` (in channels every mention is answered in its thread, and a
 * thread is its own conversation); per-user scope adds `:user:<id>`. The keys are stored, so their
 * shape never changes.
 */
import type { KeyCodec } from '../../src/core/adapter.js';
import { keyError } from '../shared/conversation.js';

/** A Slack channel (and thread) to post in. */
export interface SlackTarget {
  channel: string;
  /** The thread to post into; none for a top-level DM. */
  threadTs?: string | undefined;
  /** Whose conversation this is inside a shared thread (per-user scope). */
  userId?: string | undefined;
  /** A direct message: everything there is answered, and nothing can be shown to one user only. */
  dm: boolean;
}

/** Slack's DM channel ids start with D (channels C, private channels and group DMs G). */
export function isDmChannel(channel: string): boolean {
  return channel.startsWith('D');
}

const CHANNEL = /^[A-Z0-9]+$/;
const TS = /^\d+\.\d+$/;

/** Shaped as Slack's channel ids are (C…, G…, D…), so a conversation key can be made of it. */
export function isChannelId(v: unknown): v is string {
  return typeof v === 'string' && CHANNEL.test(v);
}

/** Shaped as a Slack message ts (`1712345678.000100`). */
export function isMessageTs(v: unknown): v is string {
  return typeof v === 'string' && TS.test(v);
}

export const slackKeys: KeyCodec<SlackTarget> = {
  encode(t) {
    return {
      platform: 'slack',
      chatId: t.channel,
      ...(t.threadTs !== undefined ? { threadId: t.threadTs } : {}),
      ...(t.userId !== undefined ? { userId: t.userId } : {}),
    };
  },
  decode(key) {
    if (key.platform !== 'slack') throw keyError(key, 'not a Slack conversation');
    if (!isChannelId(key.chatId)) throw keyError(key, 'the channel is not a Slack channel id');
    if (key.threadId !== undefined && !isMessageTs(key.threadId)) throw keyError(key, 'the thread is not a Slack message ts');
    return {
      channel: key.chatId,
      ...(key.threadId !== undefined ? { threadTs: key.threadId } : {}),
      ...(key.userId !== undefined ? { userId: key.userId } : {}),
      dm: isDmChannel(key.chatId),
    };
  },
};
