import { storeGreeting } from '../characters.js';
import type { Step, TurnContext } from '../pipeline.js';
import { greetingsOf, macrosFor } from '../prompt.js';

/**
 * The end of admission: past the limits, a new API session is created (so a refused request
 * creates nothing) and the caller learns the turn is accepted. The rest waits for its turn.
 */
export const admit: Step = async (ctx, next) => {
  if (!ctx.conversation && ctx.createConversation) {
    ctx.conversation = await ctx.createConversation();
    await greetNewSession(ctx);
  }
  if (!ctx.conversation) throw new Error('a turn needs a conversation');
  ctx.admitted = true;
  ctx.admit(ctx.conversation);
  await next();
};

/**
 * A character imported from a card opens a new API session with the card's first message, as
 * it would in SillyTavern, so the model answers from there. Other characters (the presets)
 * start as they always have.
 */
async function greetNewSession(ctx: TurnContext): Promise<void> {
  const { conversation, character } = ctx;
  if (ctx.source !== 'api' || !conversation || !character?.fromCard) return;
  const first = greetingsOf(character, ctx.chatType)[0];
  if (first === undefined) return;
  const text = macrosFor(character, ctx.userName, { now: new Date(ctx.deps.clock.now()) })(first);
  await storeGreeting(ctx.deps.store, conversation, character, text);
}
