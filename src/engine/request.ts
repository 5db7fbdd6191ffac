import type { CharbridgeError } from '../core/errors.js';
import type { Character, ChatType, Conversation, MessageKind, StoredMessage, TokenUsage } from '../core/types.js';
import type { CreditsOwedBack, DurableTurn, Payer, TurnPersona, UserInput } from './pipeline.js';
import type { ReplyStream } from './reply-stream.js';
import type { DB } from '../store/index.js';

/** A turn the HTTP API or the scheduler asks for, in a known (or about to be created) conversation. */
export interface TurnRequest {
  source: 'api' | 'scheduler';
  /** The conversation, or how to create it once the turn is admitted (a new API session). */
  conversation: Conversation | (() => Promise<Conversation>);
  character: Character;
  chatType: ChatType;
  userName: string;
  /** The user's message; absent for proactive turns. */
  user?: UserInput | undefined;
  /** The API key whose per-minute limit and credits apply. */
  payer?: Payer | undefined;
  /** Record the turn durably at admission (API turns), or run one again that was (recovery). */
  durable?: DurableTurn | undefined;
  replyKind?: Extract<MessageKind, 'assistant' | 'proactive'>;
  /**
   * A key naming the reply, stored with it (unique): whoever asked can find the message this very
   * turn stored (a proactive generation its process did not live to settle), and a second store
   * under the same key is the first one's message.
   */
  replyKey?: string | undefined;
  instruction?: string | undefined;
  accept?: ((text: string) => boolean) | undefined;
  /**
   * Written in the reply's own transaction, after the reply and its usage: the reply is stored only
   * if this succeeds (a throw here fails the turn with that error, and nothing of it is stored). A
   * proactive generation settles itself here, so one another instance took over stores no message.
   */
  alongside?: ((tx: DB, stored: StoredMessage) => Promise<void>) | undefined;
  signal?: AbortSignal | undefined;
  /** The user's persona (API chat requests); its name, when set, is the userName. */
  persona?: TurnPersona | undefined;
  /** Started from inside this chat line's running turn (a command): run in its place, not behind it. */
  inLine?: string | undefined;
}

export type TurnResult =
  | { ok: true; message: StoredMessage; usage: TokenUsage; model: string; userMessage: StoredMessage | undefined }
  | { ok: true; message: null; discarded: string; usage: TokenUsage; model: string; userMessage: StoredMessage | undefined }
  | { ok: false; error: CharbridgeError; userMessage: StoredMessage | undefined };

/** A turn the engine has taken on. */
export interface StartedTurn {
  /** The turn's events as they happen (start, delta…, done | error). */
  stream: ReplyStream;
  /**
   * Resolves with the conversation once limits and credits let the turn through (a new session
   * exists from then on); rejects with the refusal (429, 402) otherwise.
   */
  admitted: Promise<Conversation>;
  /** Settles when the turn has been persisted; a refusal resolves `{ ok: false }`. */
  result: Promise<TurnResult>;
  /**
   * Once `result` settled: the credits a durable turn reserved and did not spend, for whoever
   * closes its claim to give back in the same transaction; undefined when nothing is owed.
   */
  creditsOwedBack(): CreditsOwedBack | undefined;
}
