import { LRUCache } from 'lru-cache';
import type { EngineDeps } from './deps.js';
import type { UnfinishedMessages } from './limits.js';

/** An event key (`platform:eventId`) as its claim's two columns. */
function claimOf(eventKey: string): { platform: string; eventId: string } {
  const at = eventKey.indexOf(':');
  return { platform: eventKey.slice(0, at), eventId: eventKey.slice(at + 1) };
}

/** How soon a message found still owing is asked about again: at first, and at most. */
const RECHECK_MIN_MS = 250;
const RECHECK_MAX_MS = 2000;

/**
 * How long a dead holder's message that never reached the database still counts as owed. Its
 * instance died between taking the message's place and recording it, so only the platform has it,
 * and the platform gives it back: Telegram to its next poll, Slack by retrying the delivery, a
 * Discord peer by replaying the dead instance's gateway session once its note has been silent for
 * ten seconds. Taken in again, it takes back its place, in front of the chat's later messages,
 * if they waited; past this they go on without it.
 */
export const UNCLAIMED_HOLD_MS = 20_000;

/**
 * Whether a platform message still owes its reply: its claim is unfinished, or it has none yet
 * and was first asked about less than `unclaimedHoldMs` ago (see UNCLAIMED_HOLD_MS). Every turn of a chat
 * waiting for the same earlier message asks this, on each look at its line; after a Redis data
 * loss that is most turns of every busy chat at once. So one answer serves every asker in this
 * process for a while — longer the longer the message has owed (a quarter of that, 250 ms to 2 s)
 * — and the database is asked about each message, not by each waiter.
 */
export function owedReply(deps: Pick<EngineDeps, 'store'>, unclaimedHoldMs = UNCLAIMED_HOLD_MS): (eventKey: string) => Promise<boolean> {
  const asked = new LRUCache<string, { since: number; at: number; owed: Promise<boolean>; final?: boolean }>({ max: 10_000 });
  return (eventKey) => {
    // Real time, not the engine's clock: this paces reads of the database.
    const now = Date.now();
    const last = asked.get(eventKey);
    if (last && (last.final || now - last.at < Math.min(RECHECK_MAX_MS, Math.max(RECHECK_MIN_MS, (now - last.since) / 4)))) return last.owed;
    const { platform, eventId } = claimOf(eventKey);
    const state = deps.store.events.state(platform, eventId);
    const since = last?.since ?? now;
    const owed = state.then((s) => s === 'processing' || (s === undefined && now - since < unclaimedHoldMs));
    const entry: { since: number; at: number; owed: Promise<boolean>; final?: boolean } = { since, at: now, owed };
    asked.set(eventKey, entry);
    // A finished message owes nothing for good; a failed read is asked again next time.
    state.then(
      (s) => void (s === 'done' && (entry.final = true)),
      () => asked.get(eventKey) === entry && asked.delete(eventKey),
    );
    return entry.owed;
  };
}

/** A chat's unfinished messages, as their claims say (see `ChatOrder.rebuildFrom`). */
export function unfinishedInChat(deps: Pick<EngineDeps, 'store' | 'clock' | 'config'>): UnfinishedMessages {
  return async (chatKey, q) => {
    const now = deps.clock.now();
    const rows = await deps.store.events.unfinishedInChat({
      chatKey,
      own: q.ownEventKey === undefined ? undefined : claimOf(q.ownEventKey),
      ownArrivedAt: q.ownArrivedAt,
      now,
      since: now - q.withinMs,
      deadAfterMs: deps.config.deadAfterMs,
      leaseMs: deps.config.eventLeaseMs,
      limit: q.limit,
    });
    return rows.map((r) => ({ eventKey: `${r.platform}:${r.eventId}`, ownerGone: r.ownerGone, afterOwn: r.afterOwn }));
  };
}
