import type { Step } from '../pipeline.js';

/**
 * The end of admission: past the limits, a new API session is created (so a refused request
 * creates nothing) and the caller learns the turn is accepted. The rest waits for its turn.
 */
export const admit: Step = async (ctx, next) => {
  if (!ctx.conversation && ctx.createConversation) ctx.conversation = await ctx.createConversation();
  if (!ctx.conversation) throw new Error('a turn needs a conversation');
  ctx.admit(ctx.conversation);
  await next();
};
