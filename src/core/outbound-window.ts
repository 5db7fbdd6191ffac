/**
 * The vocabulary of outbound pacing that adapters and the deployment share: a platform limit as
 * a sliding window, the priority of a send, and a window counted somewhere other than in the
 * adapter (Redis, when several instances send for one bot). Types only; adapters/shared holds
 * the arithmetic and the in-process window, src/coord the Redis one.
 */

/** At most `max` sends in any `windowMs`. */
export interface RateWindow {
  max: number;
  windowMs: number;
  /** Slots kept free for `high` tasks: `normal` tasks stop at `max - reserve`. */
  reserve?: number;
}

/** `high`: replies' final text, notices, proactive messages. `normal`: streaming previews. */
export type Priority = 'high' | 'normal';

/** One send's hold on a slot; settle it exactly once. Neither method may throw or reject. */
export interface WindowLease {
  commit(): void | Promise<void>;
  release(): void | Promise<void>;
}

export interface SharedWindow {
  /**
   * A slot for one send of `priority` now, or the ms after which to ask again. The budget also
   * asks again whenever one of its own sends is settled, so an implementation that cannot know
   * when other holders finish (another process) answers with a short poll interval.
   * `normal` sends must leave each window's `reserve` to `high` ones.
   */
  acquire(priority: Priority): WindowLease | number | Promise<WindowLease | number>;
}

/**
 * Makes the window a bot's sends share with the other instances sending for the same bot:
 * `bot` for its platform-wide rate, `chat` for one chat's own windows. A slot held by an instance
 * that died frees itself later; in a chat's window that is as soon as the chat's place in line
 * frees (`CHAT_LOCK_TTL_MS`), since a held slot there stops the whole chat.
 */
export type SharedWindowFactory = (name: string, windows: readonly RateWindow[], scope?: 'bot' | 'chat') => SharedWindow;

/**
 * Calls of one kind counted where every instance sees them (Slack's per-method tiers), for work
 * that proceeds anyway but tells optional work to hold back.
 */
export interface SharedTally {
  /**
   * Count one call made now (or at `at`, where the tally keeps times on this process's clock: the
   * database one; Redis counts on its own clock, so it ignores it). Resolves with the ms until
   * the window has room below its reserve again counting every instance's calls (0: room now).
   * Never rejects: unknown is 0.
   */
  add(at?: number): Promise<number>;
  /**
   * Date the call counted at `from` at `to` instead (a later time), where the tally keeps times
   * on this process's clock: a call noted as it left, dated ahead by its expected time to the
   * platform, whose answer came later still. Never rejects.
   */
  move?(from: number, to: number): Promise<void>;
  /**
   * Like `add` without counting a call: the ms until the window has room below its reserve (0:
   * room now). A process asks once as it starts, so calls made before it started (by another
   * instance, or by itself before a restart) hold its optional work back from the first call.
   */
  wait?(): Promise<number>;
  /**
   * The times (this process's clock, epoch ms, oldest first) of the calls in the window now, where
   * the tally keeps them on this process's clock (the database one; Redis keeps its own clock). A
   * process that starts takes them as its own count, so not even a burst of calls at start (a
   * crash's recovery) can pass what was called before it.
   */
  calls?(): Promise<number[]>;
  /**
   * The platform refused a call with a 429 for `retryAfterMs`: its window is full of calls this
   * tally did not count (a dead instance's, gone with a Redis that restarted without its data).
   * Every instance's answers (`add`, `wait`) then say to hold back at least that long. Never rejects.
   */
  refused?(retryAfterMs: number): Promise<void>;
  /** Hear of any instance's refusal (`refused`) as it happens, not only with the next call's answer. Returns the unsubscribe. */
  onRefused?(listener: (retryAfterMs: number) => void): () => void;
  /**
   * Hear, without a call of one's own, that optional work is to hold back for `ms`: a tally
   * whose store came back (Redis reconnected) asks again at once, so a window it now counts as
   * full (a Redis that lost its data) holds the next optional call back instead of that call
   * learning it from its own answer, or from the platform's 429. Returns the unsubscribe.
   */
  onHold?(listener: (ms: number) => void): () => void;
}

export interface SharedTallyOptions {
  /**
   * Whether another instance of this deployment ran within the last `withinMs` (its heartbeat in
   * the database; a clean stop counts): its calls may still be in the platform's window. A process that
   * finds the tally's Redis empty and has never counted there takes it for a data loss, not a
   * new deployment, when one was.
   */
  othersRecent?: (withinMs: number) => Promise<boolean>;
}

/** Makes the tally of `window` the instances share under `name`. */
export type SharedTallyFactory = (name: string, window: RateWindow, o?: SharedTallyOptions) => SharedTally;
