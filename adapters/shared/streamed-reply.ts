/**
 * One reply shown while the model writes it, the same way on every platform that streams by
 * sending and editing messages (Telegram, Discord):
 *
 * - The first text goes out one interval after the first delta, so a reply finished by then is a
 *   single message with no edits. After that, at most one call per interval, each showing
 *   everything written so far; a step that would change nothing is SKIPPED (no budget slot).
 * - Previews run at `normal` priority and can be dropped while still queued; the final text runs
 *   at `high`, step after step until the platform shows all of it, so it always lands.
 * - A turn that fails midway finishes what is already visible, or shows nothing if nothing is.
 *
 * What a step sends is the platform's: a `ReplyPlanner` looks at the text and at what it shows
 * and names the one API call that brings them closer (post, edit, draft…), then makes it. Every
 * step runs inside the outbound budget (one task per chat at a time), so the planner's state
 * needs no locking, and a step retried after a 429 looks at the current text again.
 *
 * `deliverEvents` drives replies from a turn's events; `nextChunkStep` is the usual plan for
 * text split into messages.
 */
import type { Log } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import { SKIPPED, type OutboundBudget, type Skipped } from './budget.js';

export interface StreamTuning {
  /** Least time between two preview steps (posts, edits, drafts) of one reply. */
  editIntervalMs: number;
  /** Wait after the first delta before showing anything, so short replies are a single message. */
  firstSendDelayMs: number;
}

export interface StreamDeps {
  budget: OutboundBudget;
  log: Log;
  tuning: StreamTuning;
}

/** A platform's side of one streamed reply: what to call next, and calling it. */
export interface ReplyPlanner<A> {
  /**
   * The next API call that brings the platform closer to showing `text`; undefined when it shows
   * it already. `final` is false for previews (which may show the text differently, e.g. as a
   * draft) and true for the steps that land the final text.
   */
  plan(text: string, final: boolean): A | undefined;
  /** Make that one call (inside the budget) and remember what it shows now. */
  perform(action: A): Promise<void>;
  /** How many messages of the reply are visible: an abandoned reply finishes those. */
  readonly visible: number;
}

export interface StreamOptions {
  /** The budget queue every step of this reply goes through (a chat, a channel, an interaction). */
  key: string;
  /** Names the platform in log lines. */
  platform: string;
  /** Added to log lines (e.g. `{ chatId }`). */
  logContext: Record<string, unknown>;
  /**
   * Ask the planner before queueing a step, so nothing waits in the budget for a step that
   * would be skipped (default). False queues every step and lets it decide when its turn comes
   * (Discord's pacing, kept as it was).
   */
  planBeforeQueueing?: boolean;
}

export class StreamedReply<A = unknown> {
  private text = '';
  private final = false;
  private loop: Promise<void> | undefined;
  private pending: AbortController | undefined;
  private wake: (() => void) | undefined;
  private readonly planFirst: boolean;

  constructor(
    private readonly planner: ReplyPlanner<A>,
    private readonly deps: StreamDeps,
    private readonly opts: StreamOptions,
  ) {
    this.planFirst = opts.planBeforeQueueing ?? true;
  }

  /** How many messages are visible so far. */
  get visible(): number {
    return this.planner.visible;
  }

  append(delta: string): void {
    this.text += delta;
    this.loop ??= this.stream();
  }

  /** Land `finalText` completely (the preview loop stops; the remaining steps run at high priority). */
  async finish(finalText: string): Promise<void> {
    this.text = finalText;
    this.stopPreviews();
    // With planBeforeQueueing, a reply that is already fully shown waits for nothing.
    for (let guard = 0; guard < 1000 && (!this.planFirst || this.next(true)); guard++) {
      const r = await this.deps.budget.run(this.opts.key, () => this.step(true), { priority: 'high' });
      if (r === SKIPPED) break;
    }
    await this.loop;
  }

  /** The turn failed: finish what is already visible, or show nothing if nothing is. */
  async abandon(): Promise<void> {
    if (this.planner.visible > 0) return this.finish(this.text);
    this.stopPreviews();
    await this.loop;
  }

  private stopPreviews(): void {
    this.final = true;
    this.pending?.abort();
    this.wake?.();
  }

  private async stream(): Promise<void> {
    await this.pause(this.deps.tuning.firstSendDelayMs);
    while (!this.final) {
      if (this.planFirst && !this.next(false)) {
        await this.pause(this.deps.tuning.editIntervalMs); // nothing new yet: queue nothing
        continue;
      }
      this.pending = new AbortController();
      try {
        await this.deps.budget.run(this.opts.key, () => this.step(false), { priority: 'normal', signal: this.pending.signal });
      } catch (err) {
        this.deps.log.warn({ err, ...this.opts.logContext }, `${this.opts.platform} preview failed; waiting for the final text`);
        return;
      }
      await this.pause(this.deps.tuning.editIntervalMs);
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.final) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** The planner's next call; none for a preview once the final text has taken over. */
  private next(final: boolean): A | undefined {
    if (!final && this.final) return undefined;
    return this.planner.plan(this.text, final);
  }

  /** Runs inside the budget: one call, or SKIPPED (no slot used) when nothing needs showing. */
  private async step(final: boolean): Promise<true | Skipped> {
    const a = this.next(final);
    if (a === undefined) return SKIPPED;
    await this.planner.perform(a);
    return true;
  }
}

/** What one message of a reply shows: its id, and the source (Markdown) of its text. */
export interface Shown<Id> {
  messageId: Id;
  source: string;
}

/** Post chunk `index` as a new message, or edit the message showing it into `source`. */
export interface ChunkStep {
  kind: 'send' | 'edit';
  index: number;
  source: string;
}

/** The first of `chunks[0..end)` that no message shows as it is: post it, or edit it. */
export function nextChunkStep(chunks: readonly string[], shown: readonly Shown<unknown>[], end = chunks.length): ChunkStep | undefined {
  for (let i = 0; i < end; i++) {
    const source = chunks[i]!;
    const s = shown[i];
    if (!s) return { kind: 'send', index: i, source };
    if (s.source !== source) return { kind: 'edit', index: i, source };
  }
  return undefined;
}

type Notice = Extract<ReplyEvent, { type: 'notice' | 'error' }>;

/** How one platform shows a turn's events around its streamed replies. */
export interface ReplyDelivery {
  /** A new reply to stream the answer into. */
  newReply(): StreamedReply;
  /** The turn's `start` event (typing, the speaker's name, an acknowledgement). */
  start?(e: Extract<ReplyEvent, { type: 'start' }>): void | Promise<void>;
  /** A notice or error, shown after whatever part of an answer is visible. */
  notice(e: Notice): Promise<void>;
  /** "typing…", stopped when the answer or a notice arrives, and at the end. */
  typing?: { stop(): void } | undefined;
  /** A step failed; delivery goes on. */
  failed(err: unknown, what: string): void;
}

/**
 * Show one turn's events: deltas stream into a reply, `done` lands its final text, a notice or
 * error finishes what is visible and then shows itself. Failures go to `failed` and delivery
 * goes on, because there is nobody to hand them to — the engine has already stored the reply.
 */
export async function deliverEvents(events: AsyncIterable<ReplyEvent>, d: ReplyDelivery): Promise<void> {
  let reply: StreamedReply | undefined;
  const safely = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      d.failed(err, what);
    }
  };
  try {
    for await (const e of events) {
      if (e.type === 'start') await d.start?.(e);
      else if (e.type === 'delta') (reply ??= d.newReply()).append(e.text);
      else if (e.type === 'done') {
        d.typing?.stop();
        const r = reply ?? d.newReply();
        reply = undefined;
        await safely('reply', () => r.finish(e.message.content));
      } else {
        d.typing?.stop();
        const r = reply;
        reply = undefined;
        if (r) await safely('partial reply', () => r.abandon());
        await safely('notice', () => d.notice(e));
      }
    }
    const r = reply;
    if (r) await safely('partial reply', () => r.abandon());
  } finally {
    d.typing?.stop();
  }
}
