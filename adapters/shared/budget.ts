/**
 * The outbound budget: one queue per chat that every send, edit, draft, typing indicator and
 * proactive message of an adapter goes through, so together they stay under the platform's
 * limits instead of each racing to a 429.
 *
 * - Limits are sliding windows per chat (Telegram: 1 per second; 20 per minute in groups) plus a
 *   window shared by all chats (Telegram: ~30 per second per bot; see ./shared-window.ts, which
 *   can be swapped for one shared between processes). A window can keep a `reserve` of slots
 *   that only `high` work may use, so streaming previews (`normal`) can never starve the final
 *   text of a reply or a command's answer.
 * - One task per chat is in flight at a time. A slot is counted when the task *finishes*,
 *   because that is after the platform counted it — the next send can then never arrive early
 *   by network jitter.
 * - Fair when the shared window is the bottleneck: one dispatcher (./fair-dispatch.ts) hands
 *   out its slots across chats, `high` before `normal`, and within a priority to the task that
 *   has waited longest — so with N chats contending for R slots a second a task waits N/R
 *   seconds on average, and at worst that rounded up to whole windows. A chat its own windows
 *   or a 429 pause hold back is skipped, and blocks no one.
 * - With several instances, a chat's own windows can be counted where they all see them too
 *   (`sharedChats`), since one chat's consecutive turns may be answered by different instances.
 *   A single instance can keep a chat's sends past itself instead (`rememberedChats`), so that
 *   after a restart it counts what the run before it sent into the chat.
 * - When the platform still answers 429 with a retry-after, that chat waits it out before
 *   anything else goes to it, and the task is retried (up to `maxAttempts`) keeping its place
 *   in line, so callers never see a 429.
 * - Typing indicators use `tryNow`: they go out only when the chat is idle and not paused, and
 *   never wait for a slot — they must not delay a real message. Where the platform counts them
 *   (Discord: a typing bucket per channel, and the bot-wide rate), they are counted too and
 *   skipped when no slot is free right now, so they never earn a 429 either.
 *
 * Time comes from injectable `now`/`sleep`, so tests can run minutes of pacing in milliseconds.
 * Discord and Slack adapters use the same class with their own windows and 429 classifier.
 */
import { FairDispatch, SKIPPED, type BeforeCall, type ChatQueue, type Skipped, type Task } from './fair-dispatch.js';
import type { SharedTally } from '../../src/core/outbound-window.js';
import type { Priority, RateWindow } from './rate-window.js';
import { recordSend, windowsWait } from './rate-window.js';
import { LocalSharedWindow, type SharedWindow, type WindowLease } from './shared-window.js';

export type { Priority, RateWindow } from './rate-window.js';
export { SKIPPED, type BeforeCall, type Skipped } from './fair-dispatch.js';

export interface BudgetOptions {
  /** The windows that apply to one chat, e.g. `[{max: 1, windowMs: 1000}]`; asked once per chat while it is remembered. */
  windowsFor(chatKey: string): RateWindow[];
  /** Windows shared by every chat (a per-bot limit), counted in this process. */
  global?: RateWindow[];
  /** Where the shared limit is counted instead of `global` (e.g. one shared by several processes). */
  shared?: SharedWindow;
  /**
   * Where each chat's own windows are also counted when several processes send into the same
   * chat (consecutive turns of one chat answered by different instances). Made once per chat
   * while it is remembered. Absent: this process is the only one sending into its chats.
   */
  sharedChats?: (chatKey: string, windows: readonly RateWindow[]) => SharedWindow | undefined;
  /**
   * Where a single process keeps each chat's sends past itself (its database), for chats whose
   * windows outlast a restart; made once per chat while this budget holds it. The chat's first use
   * here reads the sends from before (a crashed run's last ones) into its count — its tasks wait
   * for that one read — and every send counted is added. Not with `sharedChats`.
   */
  rememberedChats?: (chatKey: string, windows: readonly RateWindow[]) => SharedTally | undefined;
  /** How long the platform asked us to wait if `err` is its rate-limit answer, else undefined. */
  retryAfterMs(err: unknown): number | undefined;
  /** Tries per task when the platform keeps answering 429. Default 6. */
  maxAttempts?: number;
  now?: () => number;
  /** Resolves after `ms`; should resolve early (and free its timer) when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told about every 429 that was waited out (for logs and metrics), with the error that said so. */
  onRateLimited?: (chatKey: string, retryAfterMs: number, err: unknown) => void;
}

/** How the platform counts best-effort work (`tryNow`); by default it does not. */
export interface BestEffortOptions {
  /** Windows of its own per chat (Discord's typing bucket): skipped while they are full. */
  windows?: readonly RateWindow[];
  /** It counts toward the shared (bot-wide) window: it takes a `normal` slot there if one is free now, else it is skipped. */
  shared?: boolean;
}

export interface RunOptions {
  priority?: Priority;
  /** Aborting a task that is still queued drops it (it resolves to SKIPPED). */
  signal?: AbortSignal;
}

export interface BudgetStats {
  sent: number;
  rateLimited: number;
  skipped: number;
  /** Tasks that have started (their first attempt). */
  started: number;
  /** Milliseconds those tasks waited in line, in total: divided by `started`, the mean wait. */
  waitedMs: number;
  /** Tasks waiting in line now. */
  queued: number;
  chats: number;
}

/** Chats remembered before idle ones are forgotten. */
const PRUNE_AT = 1000;

export class OutboundBudget {
  private readonly chats = new Map<string, ChatQueue>();
  private readonly now: () => number;
  private readonly maxAttempts: number;
  private readonly dispatch: FairDispatch;
  private readonly shared: SharedWindow;
  /** Finish times of best-effort work per chat, for its own windows (`BestEffortOptions.windows`). */
  private readonly bestEffort = new Map<string, number[]>();
  private readonly counters = { sent: 0, rateLimited: 0, skipped: 0, started: 0, waitedMs: 0 };

  constructor(private readonly opts: BudgetOptions) {
    if (opts.shared && opts.global) throw new Error('OutboundBudget: give either `global` windows or a `shared` window, not both');
    if (opts.sharedChats && opts.rememberedChats) throw new Error('OutboundBudget: give either `sharedChats` or `rememberedChats`, not both');
    this.now = opts.now ?? Date.now;
    this.maxAttempts = opts.maxAttempts ?? 6;
    this.shared = opts.shared ?? new LocalSharedWindow(opts.global ?? [], this.now);
    this.dispatch = new FairDispatch({
      shared: this.shared,
      now: this.now,
      sleep: opts.sleep ?? sleepUnlessAborted,
      finished: (chat, task, outcome) => this.finished(chat, task, outcome),
    });
  }

  /**
   * Queue `task` for `chatKey`; resolves with its result once it ran within the limits. A task
   * that sends calls `beforeCall` right before its platform call, so a chat kept past a restart
   * counts the call even if this process dies before the answer (see {@link BeforeCall}); one
   * that does not is counted after its answer.
   *
   * @example await budget.run(chatId, () => api.sendMessage(chatId, text), { priority: 'high' })
   */
  run<T>(chatKey: string, task: (beforeCall: BeforeCall) => Promise<T>, opts: RunOptions = {}): Promise<T | Skipped> {
    const chat = this.state(chatKey);
    const queuedAt = this.now();
    let started = false;
    const run = (beforeCall: BeforeCall) => {
      if (!started) {
        started = true;
        this.counters.started++;
        this.counters.waitedMs += this.now() - queuedAt;
      }
      return task(beforeCall);
    };
    return new Promise<T | Skipped>((resolve, reject) => {
      if (opts.signal?.aborted) return resolve(SKIPPED);
      const t: Task = { run, rank: opts.priority === 'normal' ? 1 : 0, seq: 0, attempts: 0, signal: opts.signal, resolve: resolve as (v: unknown) => void, reject };
      opts.signal?.addEventListener(
        'abort',
        () => {
          if (!this.dispatch.drop(chat, t)) return; // already running or done
          this.counters.skipped++;
          resolve(SKIPPED);
        },
        { once: true },
      );
      this.dispatch.enqueue(chat, t);
    });
  }

  /**
   * Best-effort work that must never delay real sends (typing indicators): runs now, only if the
   * chat has nothing queued or in flight and is not waiting out a 429 — and, where the platform
   * counts it (`o`), only if its own windows and a `normal` slot of the shared window are free
   * right now. Returns whether it runs (a remote shared window answers later: then it may still
   * be skipped). Its errors are swallowed, but a 429 still pauses the chat.
   */
  tryNow(chatKey: string, task: () => Promise<unknown>, o: BestEffortOptions = {}): boolean {
    const chat = this.state(chatKey);
    const now = this.now();
    if (chat.busy || chat.loading || chat.queue.length > 0 || chat.pausedUntil > now) return false;
    const own = o.windows?.length ? (this.bestEffort.get(chatKey) ?? []) : undefined;
    if (own && windowsWait(own, 0, o.windows!, 'normal', now) > 0) return false;
    const go = (lease?: WindowLease) => {
      if (own) {
        recordSend(own, this.now(), o.windows!);
        this.bestEffort.set(chatKey, own);
      }
      task().then(
        () => lease?.commit(),
        (err: unknown) => {
          void lease?.release();
          if (this.noteRateLimit(chat, err)) this.dispatch.refile(chat);
        },
      );
    };
    if (!o.shared) {
      go();
      return true;
    }
    const got = this.shared.acquire('normal');
    if (typeof got === 'number') return false;
    if (!(got instanceof Promise)) {
      go(got);
      return true;
    }
    void got.then(
      (lease) => (typeof lease === 'number' ? undefined : go(lease)),
      () => undefined, // the shared window is unreachable: no typing this time
    );
    return true;
  }

  /** True when `chatKey` is waiting out a 429 right now. */
  isPaused(chatKey: string): boolean {
    return (this.chats.get(chatKey)?.pausedUntil ?? 0) > this.now();
  }

  /**
   * Counted sends, 429s waited out, queued tasks dropped by abort, tasks waiting now, and how long
   * started tasks waited for their turn in total (first attempt) — for status pages and metrics.
   */
  stats(): BudgetStats {
    let queued = 0;
    for (const chat of this.chats.values()) queued += chat.queue.length;
    return { ...this.counters, queued, chats: this.chats.size };
  }

  private state(key: string): ChatQueue {
    let chat = this.chats.get(key);
    if (!chat) {
      if (this.chats.size >= PRUNE_AT) this.prune();
      const windows = this.opts.windowsFor(key);
      const shared = this.opts.sharedChats && windows.length ? this.opts.sharedChats(key, windows) : undefined;
      const remembered = this.opts.rememberedChats && windows.length ? this.opts.rememberedChats(key, windows) : undefined;
      chat = { key, windows, shared, remembered, loading: false, queue: [], sent: [], pausedUntil: 0, busy: false, version: 0 };
      this.chats.set(key, chat);
      if (remembered?.calls) this.recall(chat, remembered.calls());
    }
    return chat;
  }

  /**
   * Count the chat's sends from before this process (`before`, oldest first) before any task of
   * its own starts: nothing is sent into it here until they are read, so they come first in `sent`.
   */
  private recall(chat: ChatQueue, before: Promise<number[]>): void {
    chat.loading = true;
    void before
      .catch(() => [] as number[]) // unknown: as if nothing was sent before
      .then((times) => {
        chat.sent.unshift(...times);
        chat.loading = false;
        this.dispatch.refile(chat);
      });
  }

  /** Forget chats with nothing queued whose history no longer matters. */
  private prune(): void {
    const now = this.now();
    for (const [key, chat] of this.chats) {
      const horizon = Math.max(0, ...chat.windows.map((w) => w.windowMs));
      const last = chat.sent[chat.sent.length - 1] ?? -Infinity;
      if (!chat.busy && chat.queue.length === 0 && chat.pausedUntil <= now && last <= now - horizon) this.chats.delete(key);
    }
    // Best-effort windows are short (a typing bucket's seconds): a minute-old history is done.
    for (const [key, times] of this.bestEffort) if ((times[times.length - 1] ?? -Infinity) <= now - 60_000) this.bestEffort.delete(key);
  }

  /** What became of a task the dispatcher ran: whether its slot counts, and whether it goes back in line. */
  private finished(chat: ChatQueue, task: Task, outcome: { ok: true; value: unknown } | { ok: false; err: unknown }): { counted: boolean; retry: boolean } {
    if (outcome.ok) {
      task.resolve(outcome.value);
      const counted = outcome.value !== SKIPPED;
      if (counted) this.counters.sent++;
      else if (task.signal?.aborted) this.counters.skipped++; // given up on while it waited for a chat slot
      return { counted, retry: false };
    }
    if (!this.noteRateLimit(chat, outcome.err)) {
      task.reject(outcome.err);
      this.counters.sent++; // the platform may well have counted a failed call: so do we
      return { counted: true, retry: false };
    }
    if (++task.attempts < this.maxAttempts) return { counted: false, retry: true };
    task.reject(outcome.err);
    return { counted: false, retry: false };
  }

  private noteRateLimit(chat: ChatQueue, err: unknown): boolean {
    const ms = this.opts.retryAfterMs(err);
    if (ms === undefined) return false;
    this.counters.rateLimited++;
    chat.pausedUntil = Math.max(chat.pausedUntil, this.now() + ms);
    this.opts.onRateLimited?.(chat.key, ms, err);
    return true;
  }
}

function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
