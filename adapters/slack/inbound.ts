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
import { fromSlackText } from './mrkdwn.js';
import type { SlackCommand, SlackMessageEvent, SlackUserInfo } from './transport.js';

export interface BotIds {
  botUserId: string;
  botId: string;
  teamId: string;
}

/** Where the reply to an inbound message goes. */
export interface ReplyTarget {
  channel: string;
  /** Post into this thread; undefined for a top-level DM reply. */
  threadTs?: string | undefined;
  /** The user who spoke: ephemeral notices and streaming recipients. */
  userId: string;
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
  const isDm = e.channel_type === 'im' || e.channel.startsWith('D');
  if (isDm) return { chatType: 'dm' };
  if (e.type !== 'app_mention') return null;
  return { chatType: 'thread', threadId: e.thread_ts ?? e.ts };
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

/** Where replies to `e` go: the mention's thread in channels, the DM itself (or its thread) in DMs. */
export function replyTarget(e: SlackMessageEvent, where: { chatType: ChatType; threadId?: string }, teamId: string): ReplyTarget {
  return { channel: e.channel, threadTs: where.chatType === 'dm' ? e.thread_ts : where.threadId, userId: e.user ?? '', teamId };
}

// ── the slash command ─────────────────────────────────────────────────────────

/** Subcommands that change a channel for everyone: their success is shown to the channel. */
const CHANNEL_WIDE = new Set(['scope', 'engage', 'limit', 'character', 'proactive']);
const ADMIN_SUBS = new Set(['scope', 'engage', 'limit']);
const USER_SUBS = new Set(['clear', 'character', 'status', 'proactive', 'help', 'start']);

export type Subcommand =
  | { ok: true; sub: string; args: string[]; engineText: string }
  | { ok: false; text: string };

/**
 * `/charbridge <sub> [args]` → the engine's text command: `clear` → `/clear`, `scope per-user` →
 * `/admin scope per-user`, `proactive test` → `/admin proactive test`, `admin …` as given.
 */
export function parseSubcommand(text: string, command: string): Subcommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const sub = (words[0] ?? 'help').toLowerCase();
  const args = words.slice(1);
  if (sub === 'admin') return args.length ? { ok: true, sub: (args[0] ?? '').toLowerCase(), args: args.slice(1), engineText: `/admin ${args.join(' ')}` } : usage(command);
  if (ADMIN_SUBS.has(sub) || (sub === 'proactive' && args[0]?.toLowerCase() === 'test')) {
    return { ok: true, sub, args, engineText: `/admin ${sub} ${args.join(' ')}`.trim() };
  }
  if (USER_SUBS.has(sub)) return { ok: true, sub, args, engineText: `/${sub} ${args.join(' ')}`.trim() };
  return usage(command, sub);
}

function usage(command: string, unknown?: string): Subcommand {
  const head = unknown ? `Unknown subcommand "${unknown}". ` : '';
  return { ok: false, text: `${head}Try \`${command} help\`: clear, character [name], status, proactive on|off, help; admins: scope, engage, limit, proactive test.` };
}

/** The engine's texts name its text commands (`/clear`, `/admin scope`); in Slack they are subcommands. */
export function slashify(text: string, command: string): string {
  return text
    .replace(/(^|[\s(“"'])\/admin\s/g, `$1${command} `)
    .replace(/(^|[\s(“"'])\/(clear|character|status|proactive|help|start)\b/g, `$1${command} $2`);
}

/**
 * Answers concern only the caller (ephemeral), except successful changes an admin makes to a
 * channel for everyone: those are shown in the channel, so nobody is surprised by the new behaviour.
 */
export function isChannelWide(sub: Subcommand & { ok: true }, cmd: SlackCommand, notice: { reason: string; ephemeral?: boolean; text: string }): boolean {
  if (cmd.channel_id.startsWith('D') || !CHANNEL_WIDE.has(sub.sub) || notice.ephemeral || notice.reason !== 'command') return false;
  if (sub.sub === 'character' && sub.args.length === 0) return false;
  if (sub.sub === 'proactive' && !['on', 'off'].includes(sub.args[0]?.toLowerCase() ?? '')) return false;
  return !/^(Usage|No character|Proactive messages are not running)/.test(notice.text);
}

/** A slash command as an engine message: DMs are the user's DM conversation, channels the channel. */
export function commandToInbound(cmd: SlackCommand, sub: Subcommand & { ok: true }, user: SlackUserInfo, teamId: string): InboundMessage {
  return {
    platform: 'slack',
    eventId: `cmd:${teamId}:${cmd.trigger_id}`,
    chatId: cmd.channel_id,
    chatType: cmd.channel_id.startsWith('D') ? 'dm' : 'group',
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
    private readonly opts: { ttlMs: number; now: () => number; onError: (err: unknown, userId: string) => void; max?: number },
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
