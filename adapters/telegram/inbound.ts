/**
 * Telegram update → InboundMessage. Telegram's shapes stop here: the engine sees a chat type, who
 * spoke, the text (bot mention stripped, `/cmd@ourbot` normalized to `/cmd`), images as data:
 * URLs, and the engagement facts it decides on (mentioned, replied to the bot, sender is admin).
 *
 * `parseUpdate` is pure (the rules); `toInbound` adds what needs the network — the admin check
 * for commands and the photo download — through functions passed in.
 */
import type { Log } from '../../src/core/adapter.js';
import type { ChatType, InboundMessage } from '../../src/core/types.js';
import { hasMention, stripMentions } from '../shared/mentions.js';
import { fetchInboundFile, wantsFiles } from '../shared/files.js';
import type { TgMessage, TgUpdate } from './transport.js';

export interface BotIdentity {
  id: number;
  username: string;
}

/** What parseUpdate learned, plus the network work still to do. */
export interface ParsedUpdate {
  msg: InboundMessage;
  /** A command in a group: ask Telegram whether the sender administers the chat. */
  needsAdminCheck: boolean;
  /** Image to download (largest photo size, or a document that is an image). */
  image?: { fileId: string; mime: string };
  /** A document sent with a command (`/character import` with a card): downloaded as a file. */
  file?: { fileId: string; name: string; mime: string; size: number };
}

/** Message fields Telegram uses for media the engine cannot read. */
const UNSUPPORTED = ['sticker', 'voice', 'video', 'video_note', 'audio', 'animation', 'document', 'location', 'venue', 'contact', 'poll', 'dice', 'game', 'story', 'paid_media'];
const IMAGE_MIME = /^image\/(jpeg|png|webp|gif)$/;
/** Photo sizes above this are skipped for a smaller one: the model needs no 20 MP original. */
const MAX_PHOTO_BYTES = 5 * 1024 * 1024;

/**
 * The rules, without I/O. Returns null for updates the bot ignores: non-message updates,
 * channel posts, service messages (joins, pins, topic creation), and `/cmd@otherbot`.
 */
export function parseUpdate(update: TgUpdate, bot: BotIdentity): ParsedUpdate | null {
  const m = update.message;
  if (!m || m.chat.type === 'channel') return null;
  const original = m.text ?? m.caption ?? '';
  const entities = m.entities ?? m.caption_entities ?? [];

  let text = original;
  const cmd = /^\/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?=\s|$)/.exec(original);
  if (cmd?.[2]) {
    if (cmd[2].toLowerCase() !== bot.username.toLowerCase()) return null; // meant for another bot
    text = `/${cmd[1]}${original.slice(cmd[0].length)}`;
  }
  const token = `@${bot.username}`;
  const mentioned =
    entities.some((e) => e.type === 'mention' && original.slice(e.offset, e.offset + e.length).toLowerCase() === token.toLowerCase()) ||
    entities.some((e) => e.type === 'text_mention' && e.user?.id === bot.id) ||
    (entities.length === 0 && hasMention(original, [token]));
  if (mentioned) text = stripMentions(text, [token]);

  // A command's document is a file for the command (a PNG card is not a picture to look at).
  const file = wantsFiles(text) && m.document ? { fileId: m.document.file_id, name: m.document.file_name ?? 'file', mime: m.document.mime_type ?? 'application/octet-stream', size: m.document.file_size ?? 0 } : undefined;
  const image = file ? undefined : imageOf(m);
  const unsupportedMedia = !image && !file && UNSUPPORTED.some((k) => m[k] !== undefined);
  if (!original.trim() && !image && !unsupportedMedia) return null; // service message

  const isThread = m.chat.is_forum === true && m.is_topic_message === true && m.message_thread_id !== undefined;
  const chatType: ChatType = m.chat.type === 'private' ? 'dm' : isThread ? 'thread' : 'group';
  // An anonymous group admin posts as the group itself; a linked channel's auto-forward posts as the channel.
  const anonymousAdmin = m.sender_chat?.id === m.chat.id;
  const asChannel = m.sender_chat !== undefined && !anonymousAdmin;
  const from = m.from;

  const msg: InboundMessage = {
    platform: 'telegram',
    eventId: String(update.update_id),
    chatId: String(m.chat.id),
    chatType,
    ...(isThread ? { threadId: String(m.message_thread_id) } : {}),
    userId: anonymousAdmin ? String(m.chat.id) : String(from?.id ?? m.sender_chat?.id ?? 0),
    userName: anonymousAdmin ? (m.chat.title ?? 'Admin') : displayName(m),
    messageId: String(m.message_id),
    text,
    imageUrls: [],
    ...(unsupportedMedia ? { unsupportedMedia: true } : {}),
    mentioned,
    repliedToBot: repliedToBot(m, bot, isThread),
    senderIsAdmin: anonymousAdmin,
    ...(asChannel || (from?.is_bot && !anonymousAdmin) ? { fromBot: true } : {}),
    raw: update,
  };
  return {
    msg,
    needsAdminCheck: !anonymousAdmin && chatType !== 'dm' && text.startsWith('/') && from !== undefined,
    ...(image ? { image } : {}),
    ...(file ? { file } : {}),
  };
}

/**
 * A reply to one of the bot's messages. In a forum topic every message without an explicit
 * reply carries `reply_to_message` = the topic's creation message — which is the bot's own when
 * the bot created the topic. That is not a reply to the bot.
 */
function repliedToBot(m: TgMessage, bot: BotIdentity, isThread: boolean): boolean {
  const r = m.reply_to_message;
  if (!r || r.from?.id !== bot.id) return false;
  if (r.forum_topic_created !== undefined) return false;
  if (isThread && r.message_id === m.message_thread_id) return false;
  return true;
}

function displayName(m: TgMessage): string {
  const f = m.from;
  if (!f) return m.sender_chat?.title ?? 'User';
  return [f.first_name, f.last_name].filter(Boolean).join(' ') || f.username || 'User';
}

/** The largest photo size under the cap (Telegram lists sizes smallest first), or an image document. */
function imageOf(m: TgMessage): { fileId: string; mime: string } | undefined {
  if (m.photo?.length) {
    const sizes = [...m.photo].sort((a, b) => a.width * a.height - b.width * b.height);
    const fitting = sizes.filter((p) => (p.file_size ?? 0) <= MAX_PHOTO_BYTES);
    const pick = fitting[fitting.length - 1] ?? sizes[0];
    if (pick) return { fileId: pick.file_id, mime: 'image/jpeg' };
  }
  const doc = m.document;
  if (doc?.mime_type && IMAGE_MIME.test(doc.mime_type) && (doc.file_size ?? 0) <= MAX_PHOTO_BYTES && m.animation === undefined) {
    return { fileId: doc.file_id, mime: doc.mime_type };
  }
  return undefined;
}

export interface InboundDeps {
  bot: BotIdentity;
  log: Log;
  /** Telegram says the user is `creator` or `administrator` of the chat (cached by the caller). */
  isChatAdmin(chatId: number, userId: number): Promise<boolean>;
  /** The file's bytes (at most `maxBytes`); the URL carries the bot token, so it never leaves the transport. */
  download(fileId: string, maxBytes?: number): Promise<Buffer>;
}

/**
 * The full conversion. Images become `data:` URLs — the model server gets the pixels without a
 * URL that embeds the bot token, and nothing token-bearing reaches the database or the logs.
 */
export async function toInbound(update: TgUpdate, deps: InboundDeps): Promise<InboundMessage | null> {
  const parsed = parseUpdate(update, deps.bot);
  if (!parsed) return null;
  const { msg } = parsed;
  if (parsed.needsAdminCheck && update.message?.from) {
    msg.senderIsAdmin = await deps.isChatAdmin(update.message.chat.id, update.message.from.id);
  }
  if (parsed.file) {
    const { fileId, ...meta } = parsed.file;
    msg.files = [await fetchInboundFile(meta, (max) => deps.download(fileId, max), deps.log)];
  }
  if (parsed.image) {
    try {
      const bytes = await deps.download(parsed.image.fileId);
      msg.imageUrls = [`data:${parsed.image.mime};base64,${bytes.toString('base64')}`];
    } catch (err) {
      // Without the picture there is nothing sensible to ask the model; the engine's short
      // "text and images" answer at least tells the user it did not get through.
      deps.log.warn({ err, chatId: msg.chatId }, 'could not download a telegram image');
      if (!msg.text.trim()) msg.unsupportedMedia = true;
    }
  }
  return msg;
}
