import type { EngineDeps } from './deps.js';
import type { EarlierMessages } from './limits.js';

/** An event key (`platform:eventId`) as its claim's two columns. */
function claimOf(eventKey: string): { platform: string; eventId: string } {
  const at = eventKey.indexOf(':');
  return { platform: eventKey.slice(0, at), eventId: eventKey.slice(at + 1) };
}

/** Whether a platform message still owes its reply: its claim is unfinished. */
export function owedReply(deps: Pick<EngineDeps, 'store'>): (eventKey: string) => Promise<boolean> {
  return async (eventKey) => {
    const { platform, eventId } = claimOf(eventKey);
    return (await deps.store.events.state(platform, eventId)) === 'processing';
  };
}

/** A chat's earlier unfinished messages, as their claims say (see `ChatOrder.rebuildFrom`). */
export function earlierInChat(deps: Pick<EngineDeps, 'store' | 'clock' | 'config'>): EarlierMessages {
  return async (chatKey, q) => {
    const now = deps.clock.now();
    const rows = await deps.store.events.unfinishedInChat({
      chatKey,
      before: q.ownEventKey === undefined ? undefined : claimOf(q.ownEventKey),
      now,
      since: now - q.withinMs,
      deadAfterMs: deps.config.deadAfterMs,
      leaseMs: deps.config.eventLeaseMs,
      limit: q.limit,
    });
    return rows.map((r) => ({ eventKey: `${r.platform}:${r.eventId}`, ownerGone: r.ownerGone }));
  };
}
