/**
 * The outbound budget: one queue per chat that every send, edit, draft, typing indicator and
 * proactive message of an adapter goes through, so together they stay under the platform's
 * limits instead of each racing to a 429.
 *
 * - Limits are sliding windows per chat (Telegram: 1 per second; 20 per minute in groups) plus
 *   optional windows shared by all chats (Telegram: ~30 per second per bot). A window can keep
 *   a `reserve` of slots that only `high` work may use, so streaming previews (`normal`) can
 *   never starve the final text of a reply or a command's answer.
 * - One task per chat is in flight at a time; `high` tasks go before `normal` ones, FIFO within
 *   a priority. A slot is counted when the task *finishes*, because that is after the platform
 *   counted it — the next send can then never arrive early by network jitter.
 * - When the platform still answers 429 with a retry-after, that chat's queue waits it out before
 *   anything else goes to that chat, and the task is retried (up to `maxAttempts`), so callers
 *   never see a 429.
 * - Typing indicators use `tryNow`: they go out only when the chat is idle and not paused, and
 *   never take a slot — they must not delay a real message.
 *
 * Time comes from injectable `now`/`sleep`, so tests can run minutes of pacing in milliseconds.
 * Discord and Slack adapters use the same class with their own windows and 429 classifier.
 */

/** At most `max` sends in any `windowMs`. */
export interface RateWindow {
  max: number;
  windowMs: number;
  /** Slots kept free for `high` tasks: `normal` tasks stop at `max - reserve`. */
  reserve?: number;
}

export interface BudgetOptions {
  /** The windows that apply to one chat, e.g. `[{max: 1, windowMs: 1000}]`. */
  windowsFor(chatKey: string): RateWindow[];
  /** Windows shared by every chat (a per-bot limit). */
  global?: RateWindow[];
  /** How long the platform asked us to wait if `err` is its rate-limit answer, else undefined. */
  retryAfterMs(err: unknown): number | undefined;
  /** Tries per task when the platform keeps answering 429. Default 6. */
  maxAttempts?: number;
  now?: () => number;
  /** Resolves after `ms`; should resolve early (and free its timer) when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told about every 429 that was waited out (for logs and metrics). */
  onRateLimited?: (chatKey: string, retryAfterMs: number) => void;
}

/** `high`: replies' final text, notices, proactive messages. `normal`: streaming previews. */
export type Priority = 'high' | 'normal';

/** Returned by a task that decided, when its turn came, that nothing needed sending: no slot is used. */
export const SKIPPED: unique symbol = Symbol('budget.skipped');
export type Skipped = typeof SKIPPED;

export interface RunOptions {
  priority?: Priority;
  /** Aborting a task that is still queued drops it (it resolves to SKIPPED). */
  signal?: AbortSignal;
}

interface Task {
  run: () => Promise<unknown>;
  rank: number;
  attempts: number;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface ChatState {
  key: string;
  queue: Task[];
  /** Finish times of counted sends, ascending. */
  sent: number[];
  pausedUntil: number;
  pumping: boolean;
  kick: (() => void) | undefined;
}

export class OutboundBudget {
  private readonly chats = new Map<string, ChatState>();
  private globalSent: number[] = [];
  private globalInFlight = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly maxAttempts: number;
  private readonly counters = { sent: 0, rateLimited: 0, skipped: 0 };

  constructor(private readonly opts: BudgetOptions) {
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? sleepUnlessAborted;
    this.maxAttempts = opts.maxAttempts ?? 6;
  }

  /**
   * Queue `task` for `chatKey`; resolves with its result once it ran within the limits.
   *
   * @example await budget.run(chatId, () => api.sendMessage(chatId, text), { priority: 'high' })
   */
  run<T>(chatKey: string, task: () => Promise<T>, opts: RunOptions = {}): Promise<T | Skipped> {
    const st = this.state(chatKey);
    return new Promise<T | Skipped>((resolve, reject) => {
      const t: Task = { run: task, rank: opts.priority === 'normal' ? 1 : 0, attempts: 0, resolve: resolve as (v: unknown) => void, reject };
      if (opts.signal?.aborted) return resolve(SKIPPED);
      opts.signal?.addEventListener(
        'abort',
        () => {
          const i = st.queue.indexOf(t);
          if (i < 0) return; // already running or done
          st.queue.splice(i, 1);
          this.counters.skipped++;
          resolve(SKIPPED);
          st.kick?.();
        },
        { once: true },
      );
      this.insert(st, t, false);
      st.kick?.();
      if (!st.pumping) void this.pump(st);
    });
  }

  /**
   * Best-effort work that must never delay real sends (typing indicators): runs now, outside the
   * windows, only if the chat has nothing queued or in flight and is not waiting out a 429.
   * Returns whether it ran. Its errors are swallowed, but a 429 still pauses the chat.
   */
  tryNow(chatKey: string, task: () => Promise<unknown>): boolean {
    const st = this.state(chatKey);
    if (st.pumping || st.queue.length > 0 || st.pausedUntil > this.now()) return false;
    task().catch((err: unknown) => this.noteRateLimit(st, err));
    return true;
  }

  /** True when `chatKey` is waiting out a 429 right now. */
  isPaused(chatKey: string): boolean {
    return (this.chats.get(chatKey)?.pausedUntil ?? 0) > this.now();
  }

  /** Counted sends, 429s waited out, and queued tasks dropped by abort — for tests and logs. */
  stats(): { sent: number; rateLimited: number; skipped: number; chats: number } {
    return { ...this.counters, chats: this.chats.size };
  }

  private state(key: string): ChatState {
    let st = this.chats.get(key);
    if (!st) {
      if (this.chats.size >= 1000) this.prune();
      st = { key, queue: [], sent: [], pausedUntil: 0, pumping: false, kick: undefined };
      this.chats.set(key, st);
    }
    return st;
  }

  /** Forget chats with nothing queued whose history no longer matters. */
  private prune(): void {
    const now = this.now();
    for (const [key, st] of this.chats) {
      const horizon = Math.max(0, ...this.opts.windowsFor(key).map((w) => w.windowMs));
      const last = st.sent[st.sent.length - 1] ?? -Infinity;
      if (!st.pumping && st.queue.length === 0 && st.pausedUntil <= now && last <= now - horizon) this.chats.delete(key);
    }
  }

  /** High before normal; FIFO within a rank, or at the front of its rank for a retried task. */
  private insert(st: ChatState, t: Task, front: boolean): void {
    const i = st.queue.findIndex((q) => (front ? q.rank >= t.rank : q.rank > t.rank));
    if (i < 0) st.queue.push(t);
    else st.queue.splice(i, 0, t);
  }

  private async pump(st: ChatState): Promise<void> {
    st.pumping = true;
    try {
      for (let task = st.queue[0]; task; task = st.queue[0]) {
        const wait = this.waitMs(st, task.rank === 1 ? 'normal' : 'high');
        if (wait > 0) {
          const nap = new AbortController();
          await new Promise<void>((resolve) => {
            st.kick = resolve;
            void this.sleep(wait, nap.signal).then(() => resolve());
          });
          st.kick = undefined;
          nap.abort(); // free the timer when woken early
          continue; // re-read the head: a higher-priority task may have arrived meanwhile
        }
        st.queue.shift();
        await this.execute(st, task);
      }
    } finally {
      st.pumping = false;
    }
  }

  private async execute(st: ChatState, task: Task): Promise<void> {
    let counted = true;
    this.globalInFlight++;
    try {
      const result = await task.run();
      if (result === SKIPPED) counted = false;
      task.resolve(result);
    } catch (err) {
      if (this.noteRateLimit(st, err)) {
        counted = false;
        if (++task.attempts < this.maxAttempts) this.insert(st, task, true);
        else task.reject(err);
      } else task.reject(err);
    } finally {
      this.globalInFlight--;
      if (counted) this.count(st);
    }
  }

  private noteRateLimit(st: ChatState, err: unknown): boolean {
    const ms = this.opts.retryAfterMs(err);
    if (ms === undefined) return false;
    this.counters.rateLimited++;
    st.pausedUntil = Math.max(st.pausedUntil, this.now() + ms);
    this.opts.onRateLimited?.(st.key, ms);
    return true;
  }

  private count(st: ChatState): void {
    const t = this.now();
    this.counters.sent++;
    const keep = (times: number[], windows: RateWindow[]) => {
      const horizon = Math.max(0, ...windows.map((w) => w.windowMs));
      if (horizon === 0) return void times.splice(0);
      times.push(t);
      const firstKept = times.findIndex((x) => x > t - horizon);
      if (firstKept > 0) times.splice(0, firstKept);
    };
    keep(st.sent, this.opts.windowsFor(st.key));
    keep(this.globalSent, this.opts.global ?? []);
  }

  /** How long the head task of `st` must wait before it may start. */
  private waitMs(st: ChatState, priority: Priority): number {
    const now = this.now();
    let wait = st.pausedUntil - now;
    for (const w of this.opts.windowsFor(st.key)) wait = Math.max(wait, windowWait(st.sent, 0, w, priority, now));
    for (const w of this.opts.global ?? []) wait = Math.max(wait, windowWait(this.globalSent, this.globalInFlight, w, priority, now));
    return Math.max(0, Math.ceil(wait));
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

/** ms until one more send fits in `w`, given the counted send times and sends still in flight. */
function windowWait(times: number[], inFlight: number, w: RateWindow, priority: Priority, now: number): number {
  const cap = priority === 'normal' ? w.max - (w.reserve ?? 0) : w.max;
  const poll = Math.max(1, Math.ceil(w.windowMs / Math.max(1, w.max)));
  if (cap <= 0) return poll;
  let first = times.length;
  while (first > 0 && times[first - 1]! > now - w.windowMs) first--;
  const recent = times.length - first;
  const used = recent + inFlight;
  if (used < cap) return 0;
  const mustExpire = used - cap + 1;
  if (mustExpire > recent) return poll; // only in-flight sends are in the way: look again shortly
  return times[first + mustExpire - 1]! + w.windowMs - now;
}
