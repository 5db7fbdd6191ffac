import type { Character, ChatType, Conversation, InboundMessage, MessageKind, StoredMessage } from '../core/types.js';
import type { ChatSettings, DB } from '../store/index.js';
import type { EngineDeps } from './deps.js';
import type { ChatTicket } from './limits.js';
import type { ReplyStream } from './reply-stream.js';
import type { TurnResult } from './request.js';

/** What the user said in a turn, stored before the model is called. */
export interface UserInput {
  text: string;
  imageUrls: string[];
  authorId: string | null;
  authorName: string | null;
  /** `platform:eventId` of the platform event, so a re-run stores the message once. */
  sourceEvent?: string;
}

/** Who pays for an API turn: its key's per-minute limit and credits apply. */
export interface Payer {
  /** The caller's id (an API key id, or 'admin'): the rate limit's key. */
  keyId: string;
  /** The API key row whose credits are charged; null for the admin (unlimited). */
  apiKeyId: string | null;
  cost: number;
  /**
   * The turn takes a point of the key's per-minute budget itself (a scheduled turn). An HTTP
   * request already took its point when it was authenticated.
   */
  countsAsRequest?: boolean;
  /**
   * The caller reserved the credits already, with a durable record of its own, and settles them
   * itself (a proactive generation, on its outbox row): the turn neither reserves nor gives back.
   */
  reserved?: boolean;
}

/** A turn recorded durably at admission, so another process can finish it if this one dies. */
export interface DurableTurn {
  /** Its id among API turns (`api:<eventId>` names its messages). */
  eventId: string;
  /** What it takes to run it again. */
  payload: string;
  /** Run again after a crash: it is claimed and its credits are reserved already. */
  resumed?: boolean;
  /**
   * Its answer goes where a client looks later (the updates feed): if the database drops under
   * it, its claim goes to the recovery sweep with its credits still reserved (`TurnHandedOffError`).
   */
  finishLater?: boolean;
}

/**
 * State one turn gathers as it passes the steps. Every turn — a platform message, an API
 * request, a scheduled proactive message — is one of these and runs one chain of steps.
 */
/** A user's persona for one turn: the name is `{{user}}`, the description goes into the context. */
export interface TurnPersona {
  name: string | null;
  description: string | null;
}

export interface TurnContext {
  source: 'platform' | 'api' | 'scheduler';
  deps: EngineDeps;
  out: ReplyStream;
  chatType: ChatType;
  /** How the character addresses the user. */
  userName: string;
  conversation?: Conversation;
  character?: Character;
  /** Set for API turns: the conversation to create once the turn is admitted (a new session). */
  createConversation?: () => Promise<Conversation>;
  user?: UserInput;
  /** The stored user message, once the persist step ran. */
  userMessage?: StoredMessage;
  /** The user's text in tokens, once counted (before it is stored, to see that it fits). */
  userTokens?: number;
  payer?: Payer;
  durable?: DurableTurn;
  /** Kind of the stored reply: `assistant`, or `proactive` for turns the character starts. */
  replyKind?: Extract<MessageKind, 'assistant' | 'proactive'>;
  /** The stored reply's key (`TurnRequest.replyKey`); otherwise the user message's event key + `:reply`. */
  replyKey?: string;
  /** Extra system instruction after the history (the proactive prompt). */
  instruction?: string;
  /** Return false to discard the reply instead of storing it (the proactive "nothing to say"). */
  accept?: (text: string) => boolean;
  /** Written in the reply's transaction (`TurnRequest.alongside`). */
  alongside?: (tx: DB, stored: StoredMessage) => Promise<void>;
  signal?: AbortSignal;
  /** The model turn's outcome, set by the respond step. */
  result?: TurnResult;
  /** How the user describes themselves (their persona); its name is already `userName`. */
  persona?: TurnPersona;
  /**
   * Run again after its first run died (a claim taken over, a resumed API turn): its messages
   * may be stored already. A first run skips looking for them.
   */
  readonly rerun?: boolean;
  /**
   * The chat line (serial key) the caller is running inside already: a turn a command starts in
   * its own chat takes the command's place instead of queueing behind it.
   */
  inLine?: string;
  /** Called by the admission step once limits and credits let the turn through. */
  admit(conversation: Conversation): void;
  /** Set by the admission step as it calls `admit`: from then on the caller holds the turn as accepted. */
  admitted?: boolean;
  /**
   * Set by the limit step when a durable turn ends without a reply: the credits reserved for it,
   * which whoever closes its claim gives back in the same transaction (`EventRepo.close`), so
   * they go back exactly once however often that is tried, and never while the claim lives on.
   */
  creditsOwedBack?: CreditsOwedBack;
}

/** Credits reserved on an API key for a turn that produced no reply. */
export interface CreditsOwedBack {
  apiKeyId: string;
  cost: number;
}

/** A platform message's turn: the message, and what the steps learn about its chat. */
export interface MessageContext extends TurnContext {
  source: 'platform';
  msg: InboundMessage;
  /** Encoded key of the chat — where its settings live. */
  chatKey: string;
  /** Encoded key of the chat or thread its turns queue on, one at a time. */
  serialKey: string;
  /** Keys to try for a chat binding, most specific first (thread, then parent chat). */
  bindingKeys: string[];
  isAdmin: boolean;
  settings?: ChatSettings;
  /** Whether this process owns the event (claimed before the turn was queued). */
  claimed: Promise<boolean>;
  /** Its place in the chat's line across instances, taken on arrival (with a shared chat order). */
  ticket?: Promise<ChatTicket>;
  /**
   * Resolves true when the place is the one a dead instance's turn of this message held (taken
   * over with the message): every later turn of the chat waits for it, including those queued in
   * this process, so the turn does not stay queued behind them.
   */
  placeTakenBack?: Promise<boolean>;
  /** The turn is over: mark the event done once its reply is delivered (and let go of it in this process). */
  finishEvent(): void;
}

export type Step<C extends TurnContext = TurnContext> = (ctx: C, next: () => Promise<void>) => Promise<void>;

/**
 * grammY-style composition: each step decides whether (and when) the rest runs. Calling `next`
 * twice is a bug (the rest of the turn would run twice), so it throws.
 */
export function compose<C extends TurnContext>(steps: ReadonlyArray<Step<C>>): (ctx: C) => Promise<void> {
  return (ctx) => {
    const run = (i: number): Promise<void> => {
      const step = steps[i];
      if (!step) return Promise.resolve();
      let called = false;
      return step(ctx, () => {
        if (called) return Promise.reject(new Error(`step ${i} called next() twice`));
        called = true;
        return run(i + 1);
      });
    };
    return run(0);
  };
}

/** The conversation and character once resolved; a bug if a later step lacks them. */
export function resolved(ctx: TurnContext): { conversation: Conversation; character: Character } {
  if (!ctx.conversation || !ctx.character) throw new Error('the conversation has not been resolved');
  return { conversation: ctx.conversation, character: ctx.character };
}

/** A platform turn's conversation, character and chat settings after the resolve step. */
export function resolvedChat(ctx: MessageContext): { conversation: Conversation; character: Character; settings: ChatSettings } {
  if (!ctx.settings) throw new Error('resolve step has not run');
  return { ...resolved(ctx), settings: ctx.settings };
}
