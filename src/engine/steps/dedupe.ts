import type { MessageContext, Step } from '../pipeline.js';

/**
 * Exactly once: the event was claimed in the store when it arrived (before it waited for its
 * turn); a repeat, or one a live instance owns, stops here before any work. A message that
 * could not be recorded at all is not answered either: the platform delivers it again. The
 * claim is marked done when the turn ends, however it ended — once the adapter has delivered
 * what the turn produced (see `ReplyStream.delivered`).
 */
export const dedupe: Step<MessageContext> = async (ctx, next) => {
  let claimed: boolean;
  try {
    claimed = await ctx.claimed;
  } catch {
    return;
  }
  if (!claimed) {
    ctx.deps.log.debug({ platform: ctx.msg.platform, eventId: ctx.msg.eventId }, 'duplicate event dropped');
    return;
  }
  try {
    await next();
  } finally {
    ctx.finishEvent();
  }
};
