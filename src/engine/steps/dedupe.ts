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
    // This arrival took the first place the chat's line recorded for the message: the instance
    // whose claim it is never took one (Redis was away as it arrived, or lost the line since). The
    // place then stands for the message, as a dead holder's would: not given up, so the chat's
    // later replies wait for it while it owes its reply, and its takeover takes the place back.
    const place = await ctx.ticket?.catch(() => undefined);
    if (place?.firstForEvent) ctx.out.handOff();
    ctx.deps.log.debug({ platform: ctx.msg.platform, eventId: ctx.msg.eventId, placeKept: place?.firstForEvent === true }, 'duplicate event dropped');
    return;
  }
  try {
    await next();
  } finally {
    ctx.finishEvent();
  }
};
