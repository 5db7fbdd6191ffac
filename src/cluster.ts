import type { Logger } from './log.js';
import type { Coordination } from './coord/index.js';
import type { Store } from './store/index.js';
import type { Update } from './store/index.js';

/**
 * A single instance that restarts after a crash: its previous run's row is still fresh, so its
 * claims would wait out `INSTANCE_DEAD_AFTER_MS` before being answered — after newer messages.
 * When this process holds the database's sole-instance lock (a SQLite file, without Redis), the
 * other rows are processes that have stopped, proven: they are removed, and their claims are
 * answered by the first sweep. True when it could prove it (nothing else to warn about).
 */
export async function takeOverStoppedInstances(store: Store, coordination: Coordination, instanceId: string, log: Logger): Promise<boolean> {
  if (coordination.kind !== 'local' || !store.claimSoleInstance()) return false;
  const stopped = await store.instances.removeOthers(instanceId);
  if (stopped) log.info({ stopped }, 'the previous run stopped without a clean shutdown; answering what it had accepted');
  return true;
}

/**
 * Without Redis, limits, chat order and wake-ups live in each process: two instances on one
 * database would answer a chat's messages in parallel and each allow the full rate. Say so loudly
 * when this instance starts next to another live one. (Not refused: the "other" is most often
 * this same service killed a moment ago and restarted, whose row has not aged out yet.)
 */
export async function warnUncoordinatedSecondInstance(store: Store, coordination: Coordination, now: number, deadAfterMs: number, log: Logger): Promise<void> {
  if (coordination.kind !== 'local') return;
  const live = await store.instances.live(now - deadAfterMs);
  if (live.length === 0) return;
  log.warn(
    { otherInstances: live.length },
    'REDIS_URL is not set, but another charbridge instance was running on this database moments ago. If it still runs, the two will ' +
      'break per-chat order and rate limits: set REDIS_URL (the same Redis on every instance) or stop the other one. If it was this ' +
      'service before a restart, ignore this.',
  );
}

/**
 * An updates-feed entry written by one instance wakes long-polls waiting on every other (the
 * store's own emitter only reaches this process). Returns the unsubscribe.
 */
export function shareFeedWakeUps(store: Store, coordination: Coordination, instanceId: string): () => void {
  if (coordination.kind === 'local') return () => undefined;
  const stopListening = store.updates.onAppend((u) => coordination.bus.publish('updates', JSON.stringify({ from: instanceId, u })));
  const stopHearing = coordination.bus.subscribe('updates', (payload) => {
    const { from, u } = JSON.parse(payload) as { from: string; u: Update };
    if (from !== instanceId) store.updates.announce(u);
  });
  return () => {
    stopListening();
    stopHearing();
  };
}
