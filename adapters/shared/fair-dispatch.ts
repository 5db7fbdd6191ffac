/**
 * The outbound budget's scheduler (./budget.ts): one dispatcher for all chats instead of one
 * timer per chat. When the shared window is the bottleneck, per-chat timers race for each free
 * slot and whoever wakes first wins, so some chats starve; here every free slot goes, in order,
 *
 * 1. to `high` work (final texts, notices) before `normal` work (streaming previews), then
 * 2. to the task that has waited longest (queued first; a task retried after a 429 keeps its
 *    place), so a chat's next task never jumps ahead of another chat's older one.
 *
 * Chats that may not send yet — their own windows are full, they are waiting out a 429, or a
 * task of theirs is in flight — are skipped and block no one. A chat whose windows other
 * instances also send into (`ChatQueue.shared`) asks that shared count too, right before its
 * task runs; when it is full the task goes back to the front of its chat's line and the chat
 * waits, exactly as for its own windows. A chat whose sends a process before this one may have
 * made (`ChatQueue.remembered`, a single instance restarted) waits until those are read into its
 * count (`loading`), and tells it of every send it counts. One timer wakes the dispatcher
 * when the next chat or shared slot frees up; every enqueue, abort and finished task wakes it too.
 *
 * Chats wait in two heaps — ready (by priority, then age of their head task) and held (by when
 * their own windows open) — so handing out a slot costs O(log chats), not a scan of every chat.
 * A chat's entries go stale when its head task changes; stale entries are dropped when met.
 */
import TinyQueue from 'tinyqueue';
import { recordSend, windowsWait, type Priority, type RateWindow } from './rate-window.js';
import type { SharedWindow, WindowLease } from './shared-window.js';
import type { SharedTally } from '../../src/core/outbound-window.js';

/** Returned by a task that decided, when its turn came, that nothing needed sending: no slot is used. */
export const SKIPPED: unique symbol = Symbol('budget.skipped');
export type Skipped = typeof SKIPPED;

/**
 * Given to a task: call it right before the platform call leaves. A chat kept past a restart
 * (`rememberedChats`) then counts the call before it leaves, not after its answer, so one in
 * flight when the process dies (carried out, its answer never heard) still counts for the next
 * run; the window's reserve would not cover it, since final texts may use the reserve. The note
 * is dated ahead ({@link AnswerLeads}) and moved to the answer's time if that came later. A task
 * that does not call it is counted after its answer, if the platform counted it.
 */
export type BeforeCall = () => Promise<void>;

export interface Task {
  run: (beforeCall: BeforeCall) => Promise<unknown>;
  /** 0 = high, 1 = normal. */
  rank: 0 | 1;
  /** Queue order across all chats; set on enqueue, kept on retry. */
  seq: number;
  attempts: number;
  /** Its caller gave up on it (`RunOptions.signal`): once started it runs, but it is never queued again. */
  signal?: AbortSignal | undefined;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export interface ChatQueue {
  key: string;
  /** The chat's own windows (`windowsFor(key)`, asked once). */
  windows: readonly RateWindow[];
  /**
   * The same windows counted where every instance sending into this chat sees them (Redis), when
   * several may: asked for a slot right before each task runs, after the chat's own windows here.
   */
  shared?: SharedWindow | undefined;
  /**
   * Where this chat's sends are kept past this process (a single instance's database): told of
   * every send counted here, and read once, before the chat's first task, into `sent`.
   */
  remembered?: SharedTally | undefined;
  /** Its sends from before this process are being read: none of its tasks may start until they count. */
  loading: boolean;
  /** High before normal; by `seq` within a rank. */
  queue: Task[];
  /** Finish times of counted sends, ascending. */
  sent: number[];
  pausedUntil: number;
  /** A task of this chat is in flight. */
  busy: boolean;
  /** Bumped whenever the chat's place in line changes: older entries for it in the heaps are stale. */
  version: number;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export interface DispatchDeps {
  shared: SharedWindow;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Settles the task; says whether its slot counts and whether it goes back in line. */
  finished(chat: ChatQueue, task: Task, outcome: Outcome): { counted: boolean; retry: boolean };
}

/** A chat whose own windows allow its head task now, in line for the shared window. */
interface Ready {
  chat: ChatQueue;
  version: number;
  rank: number;
  seq: number;
}
/** A chat its own windows or a 429 pause hold back until `at`. */
interface Held {
  chat: ChatQueue;
  version: number;
  at: number;
}

/**
 * How far ahead to date a call noted as it leaves (`BeforeCall`): the longest a recent call took
 * from leaving to its answer, so the note is no earlier than the platform's own count (which
 * falls in between) and a restarted process never sends at the window's edge too early. Capped,
 * so one slow call does not hold a restarted chat back long; a later answer moves the note.
 */
class AnswerLeads {
  private readonly recent: number[] = [];
  private next = 0;
  constructor(
    private readonly size = 32,
    private readonly capMs = 1000,
  ) {}

  observe(ms: number): void {
    this.recent[this.next] = Math.max(0, ms);
    this.next = (this.next + 1) % this.size;
  }

  lead(): number {
    let max = 0;
    for (const ms of this.recent) if (ms > max) max = ms;
    return Math.min(max, this.capMs);
  }
}

/** How long to wait before asking again after a shared window failed against its contract. */
const AFTER_SHARED_FAILURE_MS = 1000;

export class FairDispatch {
  private readonly ready = new TinyQueue<Ready>([], (a, b) => a.rank - b.rank || a.seq - b.seq);
  private readonly held = new TinyQueue<Held>([], (a, b) => a.at - b.at);
  /**
   * The shared window's last refusal: until then no task of `rank` or lower is offered to it
   * again (it would say no, and asking a remote window costs a round trip). A slot given back
   * by one of our sends lifts it early.
   */
  private blocked: { until: number; rank: number } | undefined;
  private nextSeq = 0;
  private readonly leads = new AnswerLeads();
  private running = false;
  private again = false;
  private timer: { at: number; cancel: AbortController } | undefined;

  constructor(private readonly deps: DispatchDeps) {}

  enqueue(chat: ChatQueue, task: Task): void {
    task.seq = this.nextSeq++;
    insert(chat.queue, task, false);
    if (chat.queue[0] === task) this.place(chat);
    this.poke();
  }

  /** Remove a task still queued; false when it already started (or finished). */
  drop(chat: ChatQueue, task: Task): boolean {
    const i = chat.queue.indexOf(task);
    if (i < 0) return false;
    chat.queue.splice(i, 1);
    if (i === 0) this.place(chat);
    this.poke();
    return true;
  }

  /** The chat's standing changed outside its tasks (a 429 on best-effort work, its earlier sends read): file it again. */
  refile(chat: ChatQueue): void {
    this.place(chat);
    this.poke();
  }

  /** Look again at who may go now (something changed). */
  poke(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    void this.loop();
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch {
          // Only a SharedWindow breaking its no-throw contract lands here: keep the queues, ask later.
          this.arm(this.deps.now() + AFTER_SHARED_FAILURE_MS);
        }
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  /** (Re)file a chat by its head task: ready now, held until its own windows allow, or nowhere. */
  private place(chat: ChatQueue, now = this.deps.now()): void {
    chat.version++;
    const head = chat.queue[0];
    if (!head || chat.busy || chat.loading) return;
    const own = windowsWait(chat.sent, 0, chat.windows, priorityOf(head), now);
    const wait = Math.max(own, Math.ceil(chat.pausedUntil - now));
    if (wait > 0) this.held.push({ chat, version: chat.version, at: now + wait });
    else this.ready.push({ chat, version: chat.version, rank: head.rank, seq: head.seq });
  }

  /** Start every task that may start now, in fair order; arm the timer for the next one. */
  private async pass(): Promise<void> {
    let now = this.deps.now();
    for (let h = this.held.peek(); h && h.at <= now; h = this.held.peek()) {
      this.held.pop();
      if (h.version === h.chat.version) this.place(h.chat, now);
    }
    for (let r = this.ready.peek(); r; r = this.ready.peek()) {
      if (r.version !== r.chat.version) {
        this.ready.pop();
        continue;
      }
      // Everyone behind this one is younger or lower: no one else may take a slot now either.
      if (this.blocked && now < this.blocked.until && r.rank >= this.blocked.rank) break;
      const got = this.deps.shared.acquire(r.rank === 1 ? 'normal' : 'high');
      const slot = isPromiseLike(got) ? await got : got;
      now = this.deps.now();
      if (typeof slot === 'number') {
        this.blocked = { until: now + Math.max(1, slot), rank: r.rank };
        break;
      }
      if (r.version !== r.chat.version || this.ready.peek() !== r) {
        // Changed while an asynchronous window answered (this chat's head, or another chat now
        // ahead of it in line): give the slot back and look again. Popping blindly here would
        // drop whichever chat is on top now, and it would never be served.
        this.giveBack(slot);
        this.again = true;
        break;
      }
      this.ready.pop();
      this.start(r.chat, slot);
    }
    this.arm(this.nextWake());
  }

  private start(chat: ChatQueue, lease: WindowLease): void {
    const task = chat.queue.shift()!;
    chat.busy = true;
    chat.version++;
    void this.execute(chat, task, lease);
  }

  private async execute(chat: ChatQueue, task: Task, lease: WindowLease): Promise<void> {
    const own = chat.shared && (await this.chatSlot(chat, task));
    if (typeof own === 'number') {
      // Another instance sent into this chat lately: the task waits its turn again, at the front,
      // unless its caller gave up on it meanwhile (then it never runs, as if dropped in line).
      this.giveBack(lease);
      chat.pausedUntil = Math.max(chat.pausedUntil, this.deps.now() + own);
      if (task.signal?.aborted) this.deps.finished(chat, task, { ok: true, value: SKIPPED });
      else insert(chat.queue, task, true);
      chat.busy = false;
      this.place(chat);
      this.poke();
      return;
    }
    let left: { at: number; noted: number } | undefined;
    const beforeCall: BeforeCall = async () => {
      if (!chat.remembered || left) return;
      const at = this.deps.now();
      left = { at, noted: at + this.leads.lead() };
      await chat.remembered.add(left.noted);
    };
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: await task.run(beforeCall) };
    } catch (err) {
      outcome = { ok: false, err };
    }
    const answered = this.deps.now();
    if (left) this.leads.observe(answered - left.at);
    const { counted, retry } = this.deps.finished(chat, task, outcome);
    if (counted) {
      recordSend(chat.sent, answered, chat.windows);
      settle(lease.commit());
      if (own) settle(own.commit());
      if (!left) {
        if (chat.remembered) void chat.remembered.add();
      } else if (answered > left.noted) void chat.remembered!.move?.(left.noted, answered);
    } else {
      this.giveBack(lease);
      if (own) settle(own.release());
    }
    if (retry) insert(chat.queue, task, true);
    chat.busy = false;
    this.place(chat);
    this.poke();
  }

  /** The chat's slot in its shared windows, or how long to wait for one (also when the window breaks its no-throw contract). */
  private async chatSlot(chat: ChatQueue, task: Task): Promise<WindowLease | number> {
    try {
      return await chat.shared!.acquire(priorityOf(task));
    } catch {
      return AFTER_SHARED_FAILURE_MS;
    }
  }

  private giveBack(lease: WindowLease): void {
    settle(lease.release());
    this.blocked = undefined; // a slot is free again
  }

  /** The earliest moment something may change without an event: a held chat's windows, or the shared window. */
  private nextWake(): number {
    for (let h = this.held.peek(); h && h.version !== h.chat.version; h = this.held.peek()) this.held.pop();
    for (let r = this.ready.peek(); r && r.version !== r.chat.version; r = this.ready.peek()) this.ready.pop();
    let wake = this.held.peek()?.at ?? Number.POSITIVE_INFINITY;
    if (this.ready.length > 0 && this.blocked) wake = Math.min(wake, this.blocked.until);
    return wake;
  }

  /** One timer for the whole budget, re-armed only when the next wake-up time changes. */
  private arm(at: number): void {
    if (this.timer?.at === at) return;
    this.timer?.cancel.abort();
    this.timer = undefined;
    if (at === Number.POSITIVE_INFINITY) return;
    const t = { at, cancel: new AbortController() };
    this.timer = t;
    void this.deps.sleep(Math.max(1, at - this.deps.now()), t.cancel.signal).then(() => {
      if (this.timer !== t) return; // superseded
      this.timer = undefined;
      this.poke();
    });
  }
}
const priorityOf = (t: Task): Priority => (t.rank === 1 ? 'normal' : 'high');

/** High before normal; by queue order within a rank, or at the front of its rank for a retried task. */
function insert(queue: Task[], t: Task, front: boolean): void {
  const i = queue.findIndex((q) => (front ? q.rank >= t.rank : q.rank > t.rank));
  if (i < 0) queue.push(t);
  else queue.splice(i, 0, t);
}

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** Leases must not reject; if one does anyway, it must not become an unhandled rejection. */
function settle(r: void | Promise<void>): void {
  if (r) r.catch(() => undefined);
}
