import type { Step } from '../pipeline.js';

/** Event keys being handled in this process right now (a redelivery mid-turn is a duplicate). */
const inFlight = new Set<string>();

/**
 * Exactly once: claim (platform, event id) in the store before any work; a repeat is dropped.
 * The claim is marked done when the turn ends, however it ended.
 */
export const dedupe: Step = async (ctx, next) => {
  const { platform, eventId } = ctx.msg;
  const key = `${platform}:${eventId}`;
  if (inFlight.has(key)) return;
  const { store, clock, config, log } = ctx.deps;
  if (!(await store.events.claim(platform, eventId, clock.now(), config.eventLeaseMs))) {
    log.debug({ platform, eventId }, 'duplicate event dropped');
    return;
  }
  inFlight.add(key);
  try {
    await next();
    await store.events.complete(platform, eventId);
  } finally {
    inFlight.delete(key);
  }
};
