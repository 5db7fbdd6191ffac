import type { Character, ChatType, Conversation, InboundMessage } from '../core/types.js';
import type { ChatSettings } from '../store/index.js';
import type { EngineDeps } from './deps.js';
import type { ReplyStream } from './reply-stream.js';

/** State a platform message gathers as it passes the steps. */
export interface TurnContext {
  msg: InboundMessage;
  deps: EngineDeps;
  out: ReplyStream;
  /** Encoded key of the chat (or thread) — where settings and bindings live. */
  chatKey: string;
  /** Keys to try for a chat binding, most specific first (thread, then parent chat). */
  bindingKeys: string[];
  isAdmin: boolean;
  settings?: ChatSettings;
  conversation?: Conversation;
  character?: Character;
  chatType: ChatType;
  /** Whether this process owns the event (claimed before the turn was queued). */
  claimed: Promise<boolean>;
  /** Mark the event done (and let go of it in this process). */
  finishEvent(): Promise<void>;
}

export type Step = (ctx: TurnContext, next: () => Promise<void>) => Promise<void>;

/** grammY-style composition: each step decides whether (and when) the rest runs. */
export function compose(steps: Step[]): (ctx: TurnContext) => Promise<void> {
  return (ctx) => {
    const run = (i: number): Promise<void> => {
      const step = steps[i];
      return step ? step(ctx, () => run(i + 1)) : Promise.resolve();
    };
    return run(0);
  };
}

/** The context's conversation/character after the resolve step; a bug if a later step lacks them. */
export function resolved(ctx: TurnContext): { conversation: Conversation; character: Character; settings: ChatSettings } {
  if (!ctx.conversation || !ctx.character || !ctx.settings) throw new Error('resolve step has not run');
  return { conversation: ctx.conversation, character: ctx.character, settings: ctx.settings };
}
