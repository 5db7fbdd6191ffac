/**
 * Types every layer shares. No I/O lives here: adapters, the engine, HTTP routes and the
 * scheduler all speak these shapes, so platform types stop at the adapter boundary.
 */

/** Where a message came from. `api` covers every HTTP dialect. */
export type Platform = 'telegram' | 'discord' | 'slack' | 'api';
export const PLATFORMS: readonly Platform[] = ['telegram', 'discord', 'slack', 'api'];

/** dm: one-to-one with the bot; group: a multi-user chat; thread: a topic/thread inside a group. */
export type ChatType = 'dm' | 'group' | 'thread';

/** One inbound platform message, normalized by an adapter's inbound.ts. */
export interface InboundMessage {
  platform: Platform;
  /** The platform's event id (Telegram update_id, Slack event_id, Discord message id); used for dedupe. */
  eventId: string;
  chatId: string;
  chatType: ChatType;
  /** Thread/topic id when chatType is `thread`. */
  threadId?: string;
  /**
   * The thread the reply goes to when it is not the conversation's own (a Slack DM, one
   * conversation, answers in the thread it was asked in), kept so a reply sent again after a
   * crash lands, and finds what an earlier attempt left, in the same place.
   */
  replyThreadId?: string;
  userId: string;
  userName: string;
  messageId: string;
  text: string;
  imageUrls: string[];
  /** Media the engine cannot read (stickers, voice, files): answered with a short notice. */
  unsupportedMedia?: boolean;
  mentioned: boolean;
  repliedToBot: boolean;
  /** The platform says the sender administers this chat (Telegram creator/administrator, Slack admin, Discord Manage Server). */
  senderIsAdmin: boolean;
  /** Sent by a bot (ours or another): dropped before any work. */
  fromBot?: boolean;
  /**
   * Files attached to a command message (`/character import` with a card), downloaded by the
   * adapter up to its size cap; one over the cap or that failed arrives without bytes.
   */
  files?: InboundFile[];
  /** The original payload, as an escape hatch; never read by the engine. */
  raw?: unknown;
}

/** A file a user sent with a command. */
export interface InboundFile {
  name: string;
  mime: string;
  size: number;
  /** Absent when the file was not downloaded: see `skipped`. */
  bytes?: Buffer;
  skipped?: 'too-large' | 'failed';
}

export type Gender = 'male' | 'female' | 'non-binary' | 'other';

/** A character card: the TuringMate characters API's fields plus what roleplay users expect of cards. */
export interface Character {
  id: string;
  slug: string;
  /** Owning API key id; null for shipped presets. */
  ownerId: string | null;
  isPreset: boolean;
  isPublic: boolean;
  name: string;
  personality: string;
  speakingStyle: string;
  description: string | null;
  gender: Gender | null;
  age: number | null;
  occupation: string | null;
  appearanceDescription: string | null;
  avatar: string | null;
  profilePhotoUrl: string | null;
  canInitiateConversation: boolean;
  scenario: string | null;
  greeting: string | null;
  exampleDialogue: string | null;
  systemPrompt: string | null;
  postHistoryInstructions: string | null;
  tags: string[];
  model: string | null;
  /** Replaces the name in `{{char}}` (a card's V3 `nickname`). */
  nickname: string | null;
  /** More first messages (`/start 2`, …), from a card's `alternate_greetings`. */
  alternateGreetings: string[];
  /** First messages for group chats only (a card's `group_only_greetings`). */
  groupGreetings: string[];
  /** Offered to platform users although owned by a tenant key (set by the admin). */
  platformVisible: boolean;
  /** Imported from a character card: the card is kept and exported again with every field. */
  fromCard: boolean;
  createdAt: string;
  updatedAt: string;
  /** What long-term memory should keep for this character ("remember their exams and deadlines"). */
  memoryInstructions: string | null;
  /** Models tried, in order, when the character's own fails — before OPENAI_FALLBACK_MODELS. */
  fallbackModels: string[];
}

export type MessageRole = 'user' | 'assistant' | 'system';
export type MessageKind = 'user' | 'assistant' | 'proactive' | 'system-notice';

export interface StoredMessage {
  seq: number;
  id: string;
  conversationId: string;
  role: MessageRole;
  kind: MessageKind;
  content: string;
  imageUrls: string[];
  /** How many images the message carried, where a history read counted them rather than read them (`imageUrls` is then empty). */
  imageCount?: number;
  tokenCount: number;
  authorId: string | null;
  authorName: string | null;
  createdAt: string;
}

export interface Conversation {
  id: string;
  /** Encoded ConversationKey for platform conversations; null for API sessions addressed by id. */
  scopeKey: string | null;
  platform: Platform;
  chatType: ChatType;
  /** Tenant (API key id) that owns an API conversation; null for platform conversations. */
  ownerId: string | null;
  /** Explicit binding; null means "resolve through group / platform / global default". */
  characterId: string | null;
  /** Messages with seq at or below this are no longer shown to the model (clear). */
  contextStartSeq: number;
  metadata: Record<string, unknown> | null;
  messageCount: number;
  createdAt: string;
  updatedAt: string;
  /** When either side last spoke (ISO), for idle checks; null before the first message. */
  lastActivityAt: string | null;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** What one turn produced, as the engine streams it to an adapter or an HTTP response. */
export type ReplyEvent =
  | { type: 'start'; conversationId: string; characterId: string; characterName: string }
  | { type: 'delta'; text: string }
  | {
      type: 'done';
      conversationId: string;
      message: { id: string; content: string; sentAt: string };
      usage: TokenUsage;
    }
  | {
      type: 'notice';
      text: string;
      reason: NoticeReason;
      /** Only the caller should see it (refusals), where the platform can do that. */
      ephemeral?: boolean;
      /** It changed the chat for everyone: platforms that answer commands privately show it to the chat. */
      changesChat?: boolean;
    }
  | { type: 'error'; text: string; error: import('./errors.js').CharbridgeError };

/** Why the engine answered with a notice instead of a model reply. */
export type NoticeReason =
  | 'command'
  | 'greeting'
  | 'rate-limited'
  | 'refused'
  | 'unsupported-media'
  | 'usage';
