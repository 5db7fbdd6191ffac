/**
 * What a platform provides to run the shared adapter behaviour suite (suite.ts): a world with
 * the platform's fake, the real engine over SQLite with the fake model, and the real adapter on
 * the real SDK, with the platform's limits scaled down. A driver only says how a user does
 * something on its platform and where the bot's answer shows; what must happen is the suite's.
 */
import type { PlatformAdapter } from '../../../src/core/adapter.js';
import type { ConversationKey } from '../../../src/core/conversation-key.js';
import type { AdapterMode } from '../../../src/core/adapter.js';
import type { Conversation, Platform } from '../../../src/core/types.js';
import type { FakeOpenAI } from '../../fakes/openai.js';

/** Where a user writes: a DM with the bot, a group chat (channel), or a thread/topic inside one. */
export type PlaceKind = 'dm' | 'group' | 'thread';

/** A place in the fake platform, made by the world; `ref` is the driver's own handle. */
export interface Place {
  kind: PlaceKind;
  ref: unknown;
}

/** One message a user sent, as the driver needs it to deliver it again or to find its conversation. */
export interface Sent {
  place: Place;
  ref: unknown;
}

export interface ContractWorld {
  adapter: PlatformAdapter;
  /** The fake model: what it answers and what it was asked. */
  model: FakeOpenAI;
  /** How the engine names the user in groups (`Echo: <name>: …`). */
  userName: string;
  /** The platform's longest message, in characters. */
  maxMessageLength: number;
  /** A new place of this kind (a DM with a new user, the group, a new thread or topic in it). */
  place(kind: PlaceKind): Place;
  /** The user writes `text` there; in a group or thread addressed to the bot unless `addressed` is false. */
  say(place: Place, text: string, o?: { addressed?: boolean }): Promise<Sent>;
  /** The platform delivers the same event again (a retry, a replay after a reconnect). */
  redeliver(sent: Sent): Promise<void>;
  /** The user runs a chat command the platform's way; resolves with the answer they see. */
  command(place: Place, name: string): Promise<string>;
  /** The bot's messages in a place as they read now (after edits), oldest first. */
  texts(place: Place): string[];
  /** Everything handed over so far has been seen and answered: absences can be asserted. */
  idle(): Promise<void>;
  /** The platform refuses the bot's next message with a 429 and a short retry-after. */
  rateLimitNext(): void;
  /** 429s the fake has answered. */
  readonly tooManyRequests: number;
  /** The conversation a message belongs to, as the platform's rules name it (independent of the adapter's code). */
  keyOf(sent: Sent): ConversationKey;
  /** Where the bot sends for that conversation, in the adapter's target shape. */
  targetOf(sent: Sent): unknown;
  /** The stored conversation for an encoded key, if the engine made one. */
  conversation(key: string): Promise<Conversation | undefined>;
  close(): Promise<void>;
}

export interface PlatformDriver {
  platform: Platform;
  /** How the adapter receives in this world. */
  mode: AdapterMode;
  start(): Promise<ContractWorld>;
}
