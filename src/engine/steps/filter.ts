import type { MessageContext, Step } from '../pipeline.js';

/** Bots' messages (our own included) never reach any other step. */
export const ignoreBots: Step<MessageContext> = async (ctx, next) => {
  if (ctx.msg.fromBot) return;
  await next();
};
