/**
 * Slack → InboundMessage. Platform shapes stop here: the engine sees a DM (`message.im`), or a
 * channel thread (`app_mention`), or a slash command turned into the engine's text command.
 *
 * Identity rules that make "exactly once" hold:
 * - A Slack message is identified by (team, channel, ts). The same message can arrive as a
 *   `message` and as an `app_mention` event (different event ids), and Slack redelivers an event
 *   up to 3 times; all of them carry the same ts, so the engine's (platform, eventId) dedupe sees
 *   one message.
 * - In channels every mention is answered in a thread, and a thread is its own conversation:
 *   chatType `thread`, chatId = channel, threadId = the thread's root ts (a top-level mention's
 *   own ts, since the reply starts its thread).
 */
import { LRUCache } from 'lru-cache';
import type { ChatType, InboundMessage } from '../../src/core/types.js';
import { stripMentions } from '../shared/mentions.js';
import type { Subcommand } from './commands.js';
import { isChannelId, isDmChannel, isMessageTs } from './keys.js';
import { fromSlackText } from './mrkdwn.js';
import type { SlackCommand, SlackMessageEvent, SlackUserInfo } from './transport.js';

export interface BotIds {
  botUserId: string;
  botId: string;
  teamId: string;
}

/** Message subtypes that are still a person saying something; edits, joins, deletions are not. */
const USER_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

/**
 * What to do with an event: null to ignore it (bots, ourselves, edits, channel chatter we are
 * not addressed in), else the chat it belongs to. Channel `message` events are ignored because
 * the mention arrives as `app_mention` too; only DMs are answered from `message`.
 */
export function classify(e: SlackMessageEvent, me: BotIds): { chatType: ChatType; threadId?: string } | null {
  if (e.bot_id || e.subtype === 'bot_message' || !e.user || e.user === me.botUserId) return null;
  if (!USER_SUBTYPES.has(e.subtype) || !e.channel || !e.ts) return null;
  // Only a signed body gets here, but its fields are still only what it says they are.
  if (!isChannelId(e.channel) || !isMessageTs(e.ts) || (e.thread_ts !== undefined && !isMessageTs(e.thread_ts))) return null;
  if (!allStrings(e.user, e.text ?? '', e.channel_type ?? '', e.team ?? '')) return null;
  const isDm = e.channel_type === 'im' || isDmChannel(e.channel);
  if (isDm) return { chatType: 'dm' };
  if (e.type !== 'app_mention') return null;
  return { chatType: 'thread', threadId: e.thread_ts ?? e.ts };
}

function allStrings(...values: unknown[]): boolean {
  return values.every((v) => typeof v === 'string');
}

/** The dedupe key of a Slack message, the same whichever event type delivered it. */
export function messageEventId(teamId: string, channel: string, ts: string): string {
  return `${teamId}:${channel}:${ts}`;
}

/** Mention text → what the model reads: our own mention removed, Slack tokens made plain. */
export function cleanText(text: string, botUserId: string): string {
  const token = `<@${botUserId}>`;
  const normalized = text.replace(new RegExp(`<@${botUserId}\\|[^>]*>`, 'g'), token);
  return fromSlackText(stripMentions(normalized, [token]));
}

export function toInbound(
  e: SlackMessageEvent,
  where: { chatType: ChatType; threadId?: string },
  ctx: { me: BotIds; teamId: string; user: SlackUserInfo },
): InboundMessage {
  const text = cleanText(e.text ?? '', ctx.me.botUserId);
  return {
    platform: 'slack',
    eventId: messageEventId(ctx.teamId, e.channel, e.ts),
    chatId: e.channel,
    chatType: where.chatType,
    ...(where.threadId !== undefined ? { threadId: where.threadId } : {}),
    // A DM is one conversation, but a message asked in one of its threads is answered there.
    ...(where.chatType === 'dm' && e.thread_ts !== undefined ? { replyThreadId: e.thread_ts } : {}),
    userId: e.user ?? '',
    userName: ctx.user.name,
    messageId: e.ts,
    text,
    imageUrls: [],
    // Slack files need the bot token to download; the model cannot read them from a URL.
    ...(e.files?.length ? { unsupportedMedia: true } : {}),
    mentioned: e.type === 'app_mention' || (e.text ?? '').includes(`<@${ctx.me.botUserId}`),
    repliedToBot: false,
    senderIsAdmin: ctx.user.isAdmin,
    raw: e,
  };
}

/** A slash command as an engine message: DMs are the user's DM conversation, channels the channel. */
export function commandToInbound(cmd: SlackCommand, sub: Subcommand & { ok: true }, user: SlackUserInfo, teamId: string): InboundMessage {
  return {
    platform: 'slack',
    eventId: `cmd:${teamId}:${cmd.trigger_id}`,
    chatId: cmd.channel_id,
    chatType: isDmChannel(cmd.channel_id) ? 'dm' : 'group',
    userId: cmd.user_id,
    userName: user.name || cmd.user_name || '',
    messageId: cmd.trigger_id,
    text: sub.engineText,
    imageUrls: [],
    mentioned: true,
    repliedToBot: false,
    senderIsAdmin: user.isAdmin,
    raw: cmd,
  };
}

/**
 * users.info, cached: names for the model, is_admin/is_owner for admin commands. Entries live
 * `ttlMs` (admin rights change rarely; users.info is Tier 4), the least recently used go first
 * when the workspace is large, and lookups of one user in flight are shared. A failed refresh
 * falls back to the stale entry, else to "unknown, not admin" — ADMIN_USER_IDS still works then.
 */
export class UserDirectory {
  private readonly cache: LRUCache<string, SlackUserInfo>;

  constructor(
    lookup: (userId: string) => Promise<SlackUserInfo>,
    opts: { ttlMs: number; now: () => number; onError: (err: unknown, userId: string) => void; max?: number },
  ) {
    this.cache = new LRUCache<string, SlackUserInfo>({
      max: opts.max ?? 5000,
      ttl: opts.ttlMs,
      ttlResolution: 0,
      perf: { now: opts.now },
      allowStaleOnFetchRejection: true,
      noDeleteOnFetchRejection: true,
      fetchMethod: async (userId) => {
        try {
          return await lookup(userId);
        } catch (err) {
          opts.onError(err, userId);
          throw err;
        }
      },
    });
  }

  async get(userId: string): Promise<SlackUserInfo> {
    try {
      return (await this.cache.fetch(userId)) ?? { ...UNKNOWN_USER };
    } catch {
      return { ...UNKNOWN_USER };
    }
  }
}

const UNKNOWN_USER: SlackUserInfo = { name: '', isAdmin: false, isBot: false };
