/**
 * In-memory chat state for the fake Telegram server (see ./telegram.ts): chats with per-chat
 * message-id counters (shared by user and bot messages, as in Telegram), the bot's messages
 * with their edit history, chat members and downloadable files. Methods validate like the
 * Bot API and throw {@link ApiError} with Telegram's wording, which the server turns into
 * `{ok:false, error_code, description}` replies.
 */
import { randomBytes } from 'node:crypto';
import { ParseEntitiesError, parseFormatted, userTextEntities, type Entity } from './telegram-format.js';

export type ChatMemberStatus = 'creator' | 'administrator' | 'member' | 'restricted' | 'left' | 'kicked';

export interface UserMessageInput {
  chat: { id: number; type: 'private' | 'group' | 'supergroup'; title?: string; is_forum?: boolean };
  from: { id: number; first_name?: string; username?: string };
  text?: string;
  caption?: string;
  photo?: boolean;
  /** `true`: a small text file; or a file of these bytes, as a user uploads one (a character card). */
  document?: boolean | { name: string; mime: string; bytes: Buffer };
  sticker?: boolean;
  replyToBotMessageId?: number;
  threadId?: number;
  /** Deliver the same update twice (same update_id), as Telegram does after a lost confirmation. */
  duplicate?: boolean;
}

export interface BotMessageView {
  message_id: number;
  /** Text (or caption) as the user sees it, markup stripped. */
  text: string;
  edits: number;
  parse_mode?: string;
  /** Text exactly as the bot sent it, markup included. */
  raw: string;
  entities: Entity[];
}

/** Telegram's File object; file_path is served at /file/bot<token>/<file_path>. */
export interface FileInfo {
  file_id: string;
  file_unique_id: string;
  file_size: number;
  file_path: string;
}

/** A Bot API error reply: HTTP status = error_code. */
export class ApiError extends Error {
  constructor(readonly code: number, readonly description: string, readonly parameters?: Record<string, unknown>) {
    super(description);
  }
}
export const badRequest = (what: string) => new ApiError(400, `Bad Request: ${what}`);
/** Numbers arrive as strings in form-encoded and query parameters. */
export const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number.isFinite(Number(v)) ? Number(v) : undefined);
export const truthy = (v: unknown): boolean => v === true || v === 'true' || v === 1 || v === '1';
const NOT_MODIFIED = 'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

interface Stored { message: any; fromBot: boolean; raw: string; parse_mode?: string; edits: number; deleted: boolean }
interface ChatState { chat: any; nextId: number; messages: Map<number, Stored> }

export class TelegramState {
  private readonly chats = new Map<number, ChatState>();
  private readonly users = new Map<number, any>();
  private readonly members = new Map<string, ChatMemberStatus>();
  private readonly files = new Map<string, { file: FileInfo; bytes: Buffer }>();

  constructor(
    private readonly botUser: { id: number } & Record<string, unknown>,
    private readonly now: () => number,
  ) {}

  chatIdOf(v: unknown): number {
    if (v === undefined || v === null || v === '') throw badRequest('chat_id is empty');
    const id = Number(v);
    if (!Number.isInteger(id) || id === 0) throw badRequest('chat not found');
    return id;
  }

  /** State of a chat; unknown ids get a plausible chat (positive = private, -100… = supergroup). */
  chat(id: number): ChatState {
    let st = this.chats.get(id);
    if (!st) {
      const chat = id > 0 ? { id, type: 'private', first_name: `User ${id}` } : { id, type: String(id).startsWith('-100') ? 'supergroup' : 'group', title: `Chat ${id}` };
      st = { chat, nextId: 1, messages: new Map() };
      this.chats.set(id, st);
    }
    return st;
  }

  format(raw: string, parseMode: unknown, entities: unknown): { text: string; entities: Entity[] } {
    if (Array.isArray(entities)) return { text: raw, entities };
    try {
      return parseFormatted(raw, parseMode ? String(parseMode) : undefined);
    } catch (e) {
      if (e instanceof ParseEntitiesError) throw badRequest(`can't parse entities: ${e.message}`);
      throw e;
    }
  }

  private replyTarget(st: ChatState, p: any): any {
    const id = num(p.reply_parameters?.message_id ?? p.reply_to_message_id);
    if (id === undefined) return undefined;
    const target = st.messages.get(id);
    if (!target || target.deleted) {
      if (truthy(p.allow_sending_without_reply) || truthy(p.reply_parameters?.allow_sending_without_reply)) return undefined;
      throw badRequest('message to be replied not found');
    }
    const { reply_to_message: _nested, ...flat } = target.message;
    return flat;
  }

  private photoSizes(file: FileInfo): object[] {
    const base = { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size };
    return [{ ...base, width: 90, height: 90 }, { ...base, width: 800, height: 800 }];
  }

  /** sendMessage / sendPhoto: validates like Telegram and returns the full Message. */
  send(p: any, kind: 'text' | 'photo'): any {
    const st = this.chat(this.chatIdOf(p.chat_id));
    const raw = String((kind === 'text' ? p.text : p.caption) ?? '');
    const { text, entities } = this.format(raw, p.parse_mode, kind === 'text' ? p.entities : p.caption_entities);
    if (kind === 'text' && !text.trim()) throw badRequest('message text is empty');
    if (kind === 'text' && text.length > 4096) throw badRequest('message is too long');
    if (kind === 'photo' && !p.photo) throw badRequest('there is no photo in the request');
    if (kind === 'photo' && text.length > 1024) throw badRequest('message caption is too long');
    const replyTo = this.replyTarget(st, p);
    const thread = num(p.message_thread_id);
    const message: any = { message_id: st.nextId++, from: this.botUser, chat: st.chat, date: Math.floor(this.now() / 1000) };
    if (thread) Object.assign(message, { message_thread_id: thread }, st.chat.is_forum ? { is_topic_message: true } : {});
    if (replyTo) message.reply_to_message = replyTo;
    if (kind === 'text') message.text = text;
    else {
      const known = this.files.get(String(p.photo));
      message.photo = this.photoSizes(known?.file ?? this.addFile(randomBytes(512), 'photos', 'jpg'));
      if (text) message.caption = text;
    }
    if (entities.length > 0) message[kind === 'text' ? 'entities' : 'caption_entities'] = entities;
    if (p.reply_markup) message.reply_markup = p.reply_markup;
    st.messages.set(message.message_id, { message, fromBot: true, raw, parse_mode: p.parse_mode, edits: 0, deleted: false });
    return message;
  }

  /** editMessageText, including Telegram's refusal of no-op edits. */
  edit(p: any): any {
    const stored = this.chats.get(this.chatIdOf(p.chat_id))?.messages.get(num(p.message_id) ?? 0);
    if (!stored || stored.deleted) throw badRequest('message to edit not found');
    if (!stored.fromBot) throw badRequest("message can't be edited");
    const m = stored.message;
    if (typeof m.text !== 'string') throw badRequest('there is no text in the message to edit');
    const raw = String(p.text ?? '');
    const { text, entities } = this.format(raw, p.parse_mode, p.entities);
    if (!text.trim()) throw badRequest('message text is empty');
    if (text.length > 4096) throw badRequest('message is too long');
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    if (m.text === text && same(m.entities ?? [], entities) && same(m.reply_markup, p.reply_markup)) throw badRequest(NOT_MODIFIED);
    m.text = text;
    if (entities.length > 0) m.entities = entities;
    else delete m.entities;
    if (p.reply_markup) m.reply_markup = p.reply_markup;
    else delete m.reply_markup;
    m.edit_date = Math.floor(this.now() / 1000);
    Object.assign(stored, { raw, parse_mode: p.parse_mode, edits: stored.edits + 1 });
    return { ...m };
  }

  chatMember(p: any): object {
    const chatId = this.chatIdOf(p.chat_id);
    const userId = num(p.user_id);
    if (!userId) throw badRequest('invalid user_id specified');
    const status = this.members.get(`${chatId}:${userId}`) ?? 'member';
    const user = userId === this.botUser.id ? this.botUser : (this.users.get(userId) ?? { id: userId, is_bot: false, first_name: `User ${userId}` });
    const extra: Record<ChatMemberStatus, object> = {
      creator: { is_anonymous: false },
      administrator: { can_be_edited: false, is_anonymous: false, can_manage_chat: true, can_delete_messages: true },
      member: {},
      restricted: { is_member: true, can_send_messages: false, until_date: 0 },
      left: {},
      kicked: { until_date: 0 },
    };
    return { status, user, ...extra[status] };
  }

  deleteMessage(p: any): true {
    const stored = this.chats.get(this.chatIdOf(p.chat_id))?.messages.get(num(p.message_id) ?? 0);
    if (!stored || stored.deleted) throw badRequest('message to delete not found');
    stored.deleted = true;
    return true;
  }

  getFile(fileId: unknown): FileInfo {
    const f = this.files.get(String(fileId ?? ''));
    if (!f) throw badRequest('invalid file_id');
    return f.file;
  }

  fileBytes(path: string): Buffer | undefined {
    return [...this.files.values()].find((f) => f.file.file_path === path)?.bytes;
  }

  /** A user's message, stored in its chat (so the bot can reply to it and edit-checks see it). */
  userMessage(o: UserMessageInput): any {
    const from = { id: o.from.id, is_bot: false, first_name: o.from.first_name ?? `User ${o.from.id}`, ...(o.from.username ? { username: o.from.username } : {}), language_code: 'en' };
    this.users.set(from.id, from);
    const st = this.chat(o.chat.id);
    st.chat = o.chat.type === 'private'
      ? { id: o.chat.id, type: 'private', first_name: from.first_name, ...(from.username ? { username: from.username } : {}) }
      : { id: o.chat.id, type: o.chat.type, title: o.chat.title ?? `Chat ${o.chat.id}`, ...(o.chat.is_forum ? { is_forum: true } : {}) };
    const message: any = { message_id: st.nextId++, from, chat: st.chat, date: Math.floor(this.now() / 1000) };
    if (o.threadId) Object.assign(message, { message_thread_id: o.threadId }, o.chat.is_forum ? { is_topic_message: true } : {});
    if (o.replyToBotMessageId !== undefined) message.reply_to_message = this.replyTarget(st, { reply_to_message_id: o.replyToBotMessageId });
    if (o.text !== undefined) {
      message.text = o.text;
      const entities = userTextEntities(o.text);
      if (entities.length > 0) message.entities = entities;
    }
    if (o.photo) message.photo = this.photoSizes(this.addFile(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(1020)]), 'photos', 'jpg'));
    if (o.document === true) {
      const f = this.addFile(Buffer.from('hello from a fake document\n'), 'documents', 'txt');
      message.document = { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.file_size, file_name: 'document.txt', mime_type: 'text/plain' };
    } else if (o.document) {
      const f = this.addFile(o.document.bytes, 'documents', o.document.name.split('.').pop() ?? 'bin');
      message.document = { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.file_size, file_name: o.document.name, mime_type: o.document.mime };
    }
    if (o.sticker) {
      const f = this.addFile(Buffer.concat([Buffer.from('RIFF'), randomBytes(60)]), 'stickers', 'webp');
      message.sticker = { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.file_size, width: 512, height: 512, is_animated: false, is_video: false, type: 'regular', emoji: '🙂' };
    }
    if (o.caption !== undefined) {
      message.caption = o.caption;
      const entities = userTextEntities(o.caption);
      if (entities.length > 0) message.caption_entities = entities;
    }
    st.messages.set(message.message_id, { message, fromBot: false, raw: o.text ?? o.caption ?? '', edits: 0, deleted: false });
    return message;
  }

  botMessages(chatId: number, threadId?: number): BotMessageView[] {
    return [...(this.chats.get(chatId)?.messages.values() ?? [])]
      .filter((s) => s.fromBot && !s.deleted && (threadId === undefined || s.message.message_thread_id === threadId))
      .map((s) => ({
        message_id: s.message.message_id,
        text: s.message.text ?? s.message.caption ?? '',
        edits: s.edits,
        ...(s.parse_mode ? { parse_mode: s.parse_mode } : {}),
        raw: s.raw,
        entities: s.message.entities ?? s.message.caption_entities ?? [],
      }));
  }

  setChatMember(chatId: number, userId: number, status: ChatMemberStatus): void {
    this.members.set(`${chatId}:${userId}`, status);
  }

  addFile(bytes: Buffer, dir = 'documents', ext = 'dat'): FileInfo {
    const n = this.files.size + 1;
    const file = { file_id: `BQACAgIAAx${randomBytes(12).toString('base64url')}`, file_unique_id: `AgAD${n}`, file_size: bytes.length, file_path: `${dir}/file_${n}.${ext}` };
    this.files.set(file.file_id, { file, bytes });
    return file;
  }
}
