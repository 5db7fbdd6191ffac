/**
 * Slack's workspace-wide Web API tiers (chat.update Tier 3, chat.startStream/stopStream Tier 2…)
 * as sliding windows per method. Optional work (previews, starting a stream) only runs while the
 * tier has room beyond its reserve, so required work — the final text — always fits. Planners ask
 * `hasRoom` while planning (which must not use anything up) and `take` when they make the call.
 */
import type { RateWindow } from '../shared/budget.js';

export class TierGate {
  private hits = new Map<string, number[]>();

  constructor(
    private readonly tiers: Record<string, RateWindow>,
    private readonly now: () => number,
  ) {}

  /** For optional work: is a slot free below the reserve? Only looks. */
  hasRoom(method: string): boolean {
    const w = this.tiers[method];
    return !w || this.recent(method, w).length < w.max - (w.reserve ?? 0);
  }

  /** Count one call made now. Required work always proceeds and counts, so optional work backs off. */
  take(method: string): void {
    const w = this.tiers[method];
    if (w) this.recent(method, w).push(this.now());
  }

  /** For optional work in one go: take a slot if one is free below the reserve. */
  tryTake(method: string): boolean {
    if (!this.hasRoom(method)) return false;
    this.take(method);
    return true;
  }

  private recent(method: string, w: RateWindow): number[] {
    const t = this.now();
    const kept = (this.hits.get(method) ?? []).filter((x) => x > t - w.windowMs);
    this.hits.set(method, kept);
    return kept;
  }
}
