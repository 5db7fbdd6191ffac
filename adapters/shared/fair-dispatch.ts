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
 * task of theirs is in flight — are skipped and block no one. One timer wakes the dispatcher
 * when the next chat or shared slot frees up; every enqueue, abort and finished task wakes it too.
 */
import { recordSend, windowsWait, type Priority, type RateWindow } from './rate-window.js';
import type { SharedWindow, WindowLease } from './shared-window.js';

/** Returned by a task that decided, when its turn came, that nothing needed sending: no slot is used. */
export const SKIPPED: unique symbol = Symbol('budget.skipped');
export type Skipped = typeof SKIPPED;

export interface Task {
  run: () => Promise<unknown>;
  /** 0 = high, 1 = normal. */
  rank: 0 | 1;
  /** Queue order across all chats; set on enqueue, kept on retry. */
  seq: number;
  attempts: number;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export interface ChatQueue {
  key: string;
  /** High before normal; by `seq` within a rank. */
  queue: Task[];
  /** Finish times of counted sends, ascending. */
  sent: number[];
  pausedUntil: number;
  /** A task of this chat is in flight. */
  busy: boolean;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export interface DispatchDeps {
  shared: SharedWindow;
  windowsFor(chatKey: string): RateWindow[];
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Settles the task; says whether its slot counts and whether it goes back in line. */
  finished(chat: ChatQueue, task: Task, outcome: Outcome): { counted: boolean; retry: boolean };
}

/** How long to wait before asking again after a shared window failed against its contract. */
const AFTER_SHARED_FAILURE_MS = 1000;

export class FairDispatch {
  /** Chats with a task queued and none in flight. */
  private readonly waiting = new Set<ChatQueue>();
  private nextSeq = 0;
  private running = false;
  private again = false;
  private timer: { at: number; cancel: AbortController } | undefined;

  constructor(private readonly deps: DispatchDeps) {}

  enqueue(chat: ChatQueue, task: Task): void {
    task.seq = this.nextSeq++;
    insert(chat.queue, task, false);
    if (!chat.busy) this.waiting.add(chat);
    this.poke();
  }

  /** Remove a task still queued; false when it already started (or finished). */
  drop(chat: ChatQueue, task: Task): boolean {
    const i = chat.queue.indexOf(task);
    if (i < 0) return false;
    chat.queue.splice(i, 1);
    if (chat.queue.length === 0) this.waiting.delete(chat);
    this.poke();
    return true;
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

  /** Start every task that may start now, in fair order; arm the timer for the next one. */
  private async pass(): Promise<void> {
    const now = this.deps.now();
    let wake = Number.POSITIVE_INFINITY;
    const ready: ChatQueue[] = [];
    for (const chat of this.waiting) {
      const head = chat.queue[0]!;
      const own = windowsWait(chat.sent, 0, this.deps.windowsFor(chat.key), priorityOf(head), now);
      const wait = Math.max(own, Math.ceil(chat.pausedUntil - now));
      if (wait > 0) wake = Math.min(wake, now + wait);
      else ready.push(chat);
    }
    ready.sort((a, b) => a.queue[0]!.rank - b.queue[0]!.rank || a.queue[0]!.seq - b.queue[0]!.seq);
    for (const chat of ready) {
      const head = chat.queue[0]!;
      const got = this.deps.shared.acquire(priorityOf(head));
      const slot = isPromiseLike(got) ? await got : got;
      if (typeof slot === 'number') {
        // Everyone after this one is younger or lower: no one else may take a slot now either.
        wake = Math.min(wake, this.deps.now() + Math.max(1, slot));
        break;
      }
      if (chat.queue[0] !== head || chat.busy) {
        // Changed while an asynchronous window answered: give the slot back and look again.
        settle(slot.release());
        this.again = true;
        break;
      }
      chat.queue.shift();
      chat.busy = true;
      this.waiting.delete(chat);
      void this.execute(chat, head, slot);
    }
    this.arm(wake);
  }

  private async execute(chat: ChatQueue, task: Task, lease: WindowLease): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: await task.run() };
    } catch (err) {
      outcome = { ok: false, err };
    }
    const { counted, retry } = this.deps.finished(chat, task, outcome);
    if (counted) {
      recordSend(chat.sent, this.deps.now(), this.deps.windowsFor(chat.key));
      settle(lease.commit());
    } else settle(lease.release());
    if (retry) insert(chat.queue, task, true);
    chat.busy = false;
    if (chat.queue.length > 0) this.waiting.add(chat);
    this.poke();
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
