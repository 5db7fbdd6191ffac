import type { Character, ChatType, Conversation, StoredMessage } from '../core/types.js';
import type { TurnContext } from './pipeline.js';

/**
 * Where an extra piece of context goes: around the character definition (the system prompt), or
 * into the history at a depth counted from its end (0 = right before the message being answered),
 * as lorebooks, personas and memory need.
 */
export type BlockPosition = 'before-character' | 'after-character' | { depth: number; role: 'system' | 'user' | 'assistant' };

/** Something the model should know this turn that is not the character or the history. */
export interface ContextBlock {
  position: BlockPosition;
  text: string;
  /** Orders blocks of one position: lower first. */
  order?: number;
}

/** What a provider knows about the turn it adds context to. */
export interface ProviderInput {
  character: Character;
  conversation: Conversation;
  userName: string;
  chatType: ChatType;
  /** The message being answered (already stored); none for a proactive turn. */
  current: StoredMessage | undefined;
  /** The whole turn, for providers that need more (who is speaking, on which platform). */
  turn: TurnContext;
}

/**
 * A source of context blocks (a lorebook, a persona, long-term memory), asked on every model
 * turn. Its blocks count against the same token budget as the history; a provider that fails is
 * logged and left out, never breaking the turn.
 */
export interface ContextProvider {
  readonly name: string;
  blocks(input: ProviderInput): Promise<ContextBlock[]>;
  /**
   * Told, once the turn's context is built, which of this turn's blocks from this provider were
   * left out for want of room (see `buildContext`), so what it reports matches what the model
   * got. Called only when the provider gave blocks; a failure is logged, never breaking the turn.
   */
  settled?(blocks: readonly ContextBlock[], leftOut: readonly ContextBlock[]): Promise<void>;
}
