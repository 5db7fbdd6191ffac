/**
 * Discord message or slash command → InboundMessage. Discord's shapes stop here: the engine sees
 * a chat type, who spoke, the text (our mention stripped), image URLs, and the engagement facts
 * it decides on (mentioned, replied to the bot, sender holds Manage Server).
 *
 * Conversation identity: a guild text channel is a `group` keyed by the channel id; a thread is
 * its own conversation (`thread`, chatId = the parent channel, threadId = the thread) so it
 * inherits the parent channel's settings; a DM is keyed by its DM channel id, which is also where
 * proactive messages are delivered. The event id is the message (or interaction) id, so a
 * MESSAGE_CREATE replayed after a gateway resume is dropped by the engine's dedupe.
 *
 * Pure functions: everything they need is already in the DcMessage the transport built.
 */
import type { ChatType, InboundMessage } from '../../src/core/types.js';
import { hasMention, stripMentions } from '../shared/mentions.js';
import type { DcCommand, DcMessage, DcPlace } from './transport.js';

export interface BotIdentity {
  id: string;
  username: string;
  applicationId: string;
}

/** Discord CDN attachments the model can read (the URLs are public, so they are passed as-is). */
const IMAGE_TYPE = /^image\/(png|jpe?g|webp|gif)\b/i;
const IMAGE_NAME = /\.(png|jpe?g|webp|gif)$/i;
/** Larger images are skipped: vision models reject or downscale them anyway. */
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const MAX_IMAGES = 4;

/** `group` / `thread` / `dm` and the ids the engine keys conversations by. */
export function placeToChat(p: DcPlace): { chatType: ChatType; chatId: string; threadId?: string } {
  if (p.channelKind === 'dm') return { chatType: 'dm', chatId: p.channelId };
  if (p.channelKind === 'thread') return { chatType: 'thread', chatId: p.parentId ?? p.channelId, threadId: p.channelId };
  return { chatType: 'group', chatId: p.channelId };
}

/** The tokens that address the bot in text: `<@id>`, the legacy `<@!id>`, and its managed role. */
export function mentionTokens(botId: string, botRoleId: string | null): string[] {
  return [`<@${botId}>`, `<@!${botId}>`, ...(botRoleId ? [`<@&${botRoleId}>`] : [])];
}

/**
 * The rules. Returns null for messages that carry nothing to answer (service messages, embeds
 * only). Messages from bots and webhooks — our own echoes included — come back with `fromBot`
 * so they are dropped before any work.
 *
 * @param ownWebhookIds ids of the webhooks we speak through: a reply to one is a reply to the bot.
 */
export function toInbound(m: DcMessage, bot: BotIdentity, ownWebhookIds: ReadonlySet<string> = new Set()): InboundMessage | null {
  if (m.system) return null;
  const tokens = mentionTokens(bot.id, m.botRoleId);
  const mentioned = m.mentionsBot || hasMention(m.content, tokens);
  const text = mentioned ? stripMentions(m.content, tokens) : m.content;

  const images = m.attachments.filter((a) => (a.contentType ? IMAGE_TYPE.test(a.contentType) : IMAGE_NAME.test(a.name)) && a.size <= MAX_IMAGE_BYTES);
  const unsupportedMedia = images.length === 0 && (m.hasStickers || m.attachments.length > 0);
  // A bare "@bot" still counts (it is how people say hello); a message with nothing at all does not.
  if (!m.content.trim() && images.length === 0 && !unsupportedMedia) return null;

  const replied = m.repliedToUserId;
  const chat = placeToChat(m);
  return {
    platform: 'discord',
    eventId: m.id,
    ...chat,
    userId: m.author.id,
    userName: m.author.name,
    messageId: m.id,
    text,
    imageUrls: images.slice(0, MAX_IMAGES).map((a) => a.url),
    ...(unsupportedMedia ? { unsupportedMedia: true } : {}),
    mentioned,
    repliedToBot: replied !== null && (replied === bot.id || ownWebhookIds.has(replied)),
    senderIsAdmin: chat.chatType !== 'dm' && m.memberIsAdmin,
    ...(m.author.bot || m.webhookId !== null ? { fromBot: true } : {}),
    raw: m.raw,
  };
}

/**
 * A slash command as a message: `text` is the engine command (or, for `/chat`, what the user
 * said). It is addressed to us by definition (`mentioned`), and the interaction id is the event
 * id. Manage Server comes from the interaction's member permissions, checked on every use.
 */
export function commandToInbound(c: DcCommand, text: string): InboundMessage {
  const chat = placeToChat(c);
  return {
    platform: 'discord',
    eventId: c.id,
    ...chat,
    userId: c.user.id,
    userName: c.user.name,
    messageId: c.id,
    text,
    imageUrls: [],
    mentioned: true,
    repliedToBot: false,
    senderIsAdmin: chat.chatType !== 'dm' && c.memberIsAdmin,
  };
}
