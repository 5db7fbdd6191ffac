import { ManualClock } from '../../src/core/clock.js';
import type { Character, Conversation, StoredMessage } from '../../src/core/types.js';
import { ProactiveScheduler, type DeliveryOptions, type ProactiveTarget, type ProactiveOptions } from '../../src/scheduler/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** A delivery target that records what it was given (and can be told to fail). */
export class RecordingTarget implements ProactiveTarget {
  delivered: Array<{ conversationId: string; character: string; text: string; kind: string }> = [];
  failNext = 0;
  /** Like an adapter: the first call is announced (`beforeFirstCall`) before it is made, and nothing is sent when that refuses. */
  async deliver(c: Conversation, ch: Character, m: StoredMessage, o: DeliveryOptions = {}): Promise<void> {
    await o.beforeFirstCall?.();
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('receiver down');
    }
    this.delivered.push({ conversationId: c.id, character: ch.name, text: m.content, kind: m.kind });
  }
}

export const MIN = 60_000;
export const defaults: ProactiveOptions['defaults'] = { minIdleMinutes: 60, minGapMinutes: 120, dailyCap: 3, maxUnanswered: 5 };

/** Engine + scheduler wired like the runtime does, on a manual clock. */
export async function startProactiveHarness(opts: { dbPath?: string; owner?: string; deadAfterMs?: number; defaults?: Partial<ProactiveOptions['defaults']>; start?: number } = {}) {
  const clock = new ManualClock(opts.start ?? Date.UTC(2026, 5, 1, 10, 0, 0));
  const h: Harness = await startHarness({ clock, ...(opts.dbPath ? { dbPath: opts.dbPath } : {}) });
  const target = new RecordingTarget();
  const scheduler = ProactiveScheduler.attach(
    { engine: h.engine, store: h.store, clock, log: h.log, target },
    { defaults: { ...defaults, ...opts.defaults }, leaseMs: 5 * MIN, retryBaseMs: MIN, ...(opts.owner ? { owner: opts.owner } : {}), ...(opts.deadAfterMs ? { deadAfterMs: opts.deadAfterMs } : {}) },
  );
  return { h, clock, target, scheduler };
}
