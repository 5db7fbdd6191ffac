/**
 * Slack's workspace-wide Web API tiers (chat.update Tier 3, chat.startStream/stopStream Tier 2…)
 * as sliding windows per method, with the same window arithmetic as the outbound budget. Optional
 * work (previews, starting a stream) only runs while the tier has room beyond its reserve, so
 * required work — the final text — always fits. Planners ask `hasRoom` while planning (which must
 * not use anything up) and `take` when they make the call. A 429 marks the tier `spent` until its
 * Retry-After: the calls that spent it were not this process's to count (another instance's, or
 * the run before a restart), and optional work waits instead of adding to them. The tally is told
 * of the 429 too (`refused`), so the other instances (told at once, `onRefused`), and a process
 * starting, wait as long instead of each drawing a 429 of its own. While Slack refuses a tier,
 * even required calls wait (`refusalLeft`): they would only be refused again.
 *
 * Every call is also counted in a tally (`tallyFor`): shared by the instances in Redis, or kept
 * in the database by a single instance, so it survives a restart. When it answers that the calls
 * together (every instance's, or this process's before a restart) have used a tier up to its
 * reserve, the tier is spent here too for as long, so one instance's previews do not eat the
 * reserve another's final texts need, and a restarted process does not spend it again. A tally
 * can say so without a call too (`onHold`: its Redis came back without its data).
 */
import type { SharedTally } from '../../src/core/outbound-window.js';
import { recordSend, windowWait, type RateWindow } from '../shared/rate-window.js';

export class TierGate {
  private readonly hits = new Map<string, number[]>();
  /** Until when Slack (a 429) or the shared tally said a tier is spent: calls this process did not count. */
  private readonly spentUntil = new Map<string, number>();
  /** Until when Slack refused a tier's calls (a 429 here or, told through the tally, in another instance): any call would be refused too. */
  private readonly refusedUntil = new Map<string, number>();
  private readonly tallies = new Map<string, SharedTally>();

  constructor(
    private readonly tiers: Record<string, RateWindow>,
    private readonly now: () => number,
    private readonly tallyFor?: (method: string, window: RateWindow) => SharedTally,
  ) {}

  /** For optional work: is a slot free below the reserve? Only looks. */
  hasRoom(method: string): boolean {
    if ((this.spentUntil.get(method) ?? 0) > this.now()) return false;
    const w = this.tiers[method];
    return !w || windowWait(this.hits.get(method) ?? [], 0, w, 'normal', this.now()) === 0;
  }

  /** Slack refused `method` with a 429: no optional work on it for `retryAfterMs`, here or (through the tally) in any instance. */
  refused(method: string, retryAfterMs: number): void {
    this.heard(method, retryAfterMs);
    const w = this.tiers[method];
    if (w) void this.tally(method, w)?.refused?.(retryAfterMs);
  }

  /**
   * How long Slack still refuses `method`'s tier (0: not refused): a call now, even a final text's,
   * would only draw another 429. Only for methods with a tier: a 429 of another method (a
   * channel's `chat.postMessage`) says nothing about other channels.
   */
  refusalLeft(method: string): number {
    return Math.max(0, (this.refusedUntil.get(method) ?? 0) - this.now());
  }

  /** Slack refused `method` for `retryAfterMs`: this process's 429, or another instance's. */
  private heard(method: string, retryAfterMs: number): void {
    this.spent(method, retryAfterMs);
    if (this.tiers[method]) this.refusedUntil.set(method, Math.max(this.refusedUntil.get(method) ?? 0, this.now() + retryAfterMs));
  }

  /** No optional work on `method` for `retryAfterMs`: Slack or the tally said its tier is spent. */
  private spent(method: string, retryAfterMs: number): void {
    this.spentUntil.set(method, Math.max(this.spentUntil.get(method) ?? 0, this.now() + retryAfterMs));
  }

  /** Count one call made now. Required work always proceeds and counts, so optional work backs off. */
  take(method: string): void {
    const w = this.tiers[method];
    if (!w) return;
    let times = this.hits.get(method);
    if (!times) this.hits.set(method, (times = []));
    recordSend(times, this.now(), [w]);
    const tally = this.tally(method, w);
    if (tally) void tally.add().then((ms) => ms > 0 && this.spent(method, ms));
  }

  /**
   * Before the first call, what the tally knows of each tier (calls this process made before a
   * restart, or other instances made): the calls themselves where it keeps them on this clock
   * (the database), so they count here exactly as if made here; else (Redis) a tier used up to its
   * reserve is spent here for as long. Optional work then starts held back instead of drawing a
   * 429 to find out.
   */
  async prime(): Promise<void> {
    await Promise.all(
      Object.entries(this.tiers).map(async ([method, w]) => {
        const tally = this.tally(method, w);
        if (tally?.calls) {
          const before = await tally.calls();
          if (before.length) this.hits.set(method, [...before, ...(this.hits.get(method) ?? [])].sort((a, b) => a - b));
          return;
        }
        const ms = (await tally?.wait?.()) ?? 0;
        if (ms > 0) this.spent(method, ms);
      }),
    );
  }

  /** The tier's shared tally, made once (none without `tallyFor`). */
  private tally(method: string, w: RateWindow): SharedTally | undefined {
    if (!this.tallyFor) return undefined;
    let t = this.tallies.get(method);
    if (!t) {
      this.tallies.set(method, (t = this.tallyFor(method, w)));
      t.onRefused?.((ms) => this.heard(method, ms));
      t.onHold?.((ms) => this.spent(method, ms));
    }
    return t;
  }

  /** For optional work in one go: take a slot if one is free below the reserve. */
  tryTake(method: string): boolean {
    if (!this.hasRoom(method)) return false;
    this.take(method);
    return true;
  }
}
