import type { RateWindow, SharedTally, SharedTallyFactory } from '../core/outbound-window.js';
import type { Logger } from '../log.js';
import { CALL_KEPT_MS, type CallTallyRepo } from '../store/index.js';

/**
 * How long until a window holding calls at `times` (oldest first) has room below its reserve:
 * 0 while fewer than `max - reserve` are in it, else until the call at index `count - cap`
 * leaves it (the arithmetic of the Redis tally, ./shared-tally.ts).
 */
export function untilRoom(times: readonly number[], window: RateWindow, now: number): number {
  const cap = window.max - (window.reserve ?? 0);
  if (cap <= 0) return window.windowMs;
  if (times.length < cap) return 0;
  return Math.max(1, Math.ceil(times[times.length - cap]! + window.windowMs - now));
}

/**
 * A tally of calls kept in the database, for a single instance (no Redis): what it called before
 * a restart still counts after it, so a process that restarts within a minute does not begin a
 * fresh minute Slack has not begun, and a crash loop no longer draws a 429 per tier per restart.
 * A call made in the last moment before a crash may go uncounted; the tier's reserve covers it.
 *
 * Without Redis this process is the table's only writer, so the window is read from it once, at
 * the first call, and kept here as calls are recorded: a call costs one insert (and a prune once
 * per window), not a transaction that prunes, inserts and reads the window back — five
 * statements, about 2.5 a Slack turn. An instance started beside it on the same database (a
 * rolling restart without Redis) counts its calls only from its own first call on; the reserve
 * covers that overlap too.
 */
export class StoreCallTally implements SharedTally {
  /** The window's calls as this process knows them, oldest first: read at the first call, then kept as it records. */
  private known: Promise<number[]> | undefined;
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(
    protected readonly repo: CallTallyRepo,
    protected readonly name: string,
    protected readonly window: RateWindow,
    protected readonly now: () => number,
    protected readonly log: Logger,
  ) {
    if (!(window.max >= 1) || !(window.windowMs > 0) || window.windowMs > CALL_KEPT_MS) {
      throw new Error(`call tally needs max >= 1 and 0 < windowMs <= ${CALL_KEPT_MS} (got max ${window.max}, windowMs ${window.windowMs})`);
    }
  }

  async add(): Promise<number> {
    const now = this.now();
    try {
      const times = await this.loaded(now);
      // Counted here even if the insert below fails: this process's own count still applies.
      times.splice(sortedIndex(times, now), 0, now);
      times.splice(0, sortedIndex(times, now - this.window.windowMs + 1));
      await this.repo.add(this.name, now, this.prune(now), now);
      return untilRoom(times, this.window, now);
    } catch (err) {
      this.log.warn({ err, tally: this.name }, 'call tally unavailable');
      return 0;
    }
  }

  /** The window's calls, read once; a read that failed is tried again at the next call. */
  private loaded(now: number): Promise<number[]> {
    this.known ??= this.repo.callsAfter(this.name, now - this.window.windowMs).catch((err: unknown) => {
      this.known = undefined;
      throw err;
    });
    return this.known;
  }

  /** The window to drop what left it now, once per window; undefined between. */
  protected prune(now: number): number | undefined {
    if (now - this.prunedAt < this.window.windowMs) return undefined;
    this.prunedAt = now;
    return this.window.windowMs;
  }

  async wait(): Promise<number> {
    return untilRoom(await this.calls(), this.window, this.now());
  }

  async calls(): Promise<number[]> {
    try {
      return await this.repo.callsAfter(this.name, this.now() - this.window.windowMs);
    } catch (err) {
      this.log.warn({ err, tally: this.name }, 'call tally unavailable');
      return [];
    }
  }
}

/**
 * One chat's sends kept in the same table (`bot:chat:<key>`, the outbound budget's
 * `rememberedChats`), read by the process after a restart as the call tally is, and written the
 * same way (one insert, a prune once per window). Nobody asks a chat's tally how long to wait
 * (the budget's own count says, once read), so it keeps no window of its own.
 * A reply's send is written as it leaves (the budget's `BeforeCall`), so one still in flight when
 * the process died counts too; the window's reserve would not cover it, since final texts may
 * use the reserve. It is dated ahead by the time calls lately took to be answered, since the
 * platform counts it on arrival, and a restarted process that took the leaving time would send
 * at the window's edge a few ms early; an answer later than that moves it (a second write).
 * Other sends are written once the platform answered, not waited for.
 */
export class StoreChatTally extends StoreCallTally {
  /** Answers 0 (unknown): the chat's own count in the budget is the answer. */
  override async add(at?: number): Promise<number> {
    const now = this.now();
    try {
      await this.repo.add(this.name, at ?? now, this.prune(now), now);
    } catch (err) {
      this.log.warn({ err, tally: this.name }, 'call tally unavailable');
    }
    return 0;
  }

  async move(from: number, to: number): Promise<void> {
    try {
      await this.repo.move(this.name, from, to);
    } catch (err) {
      this.log.warn({ err, tally: this.name }, 'call tally unavailable');
    }
  }
}

/** Index of the first of `times` (ascending) not below `t`. */
function sortedIndex(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Tallies in the database, one per name (a single instance's Slack tiers). */
export function storeCallTallies(repo: CallTallyRepo, log: Logger, now: () => number = Date.now): SharedTallyFactory {
  return (name, window) => new StoreCallTally(repo, name, window, now, log);
}

/** Each chat's sends in the database, one tally per chat (a single instance's chat windows that outlast a restart). */
export function storeChatTallies(repo: CallTallyRepo, log: Logger, now: () => number = Date.now): SharedTallyFactory {
  return (name, window) => new StoreChatTally(repo, name, window, now, log);
}
