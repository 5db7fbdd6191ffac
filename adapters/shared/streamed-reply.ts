/**
 * One reply shown while the model writes it, the same way on every platform (Telegram and Discord
 * send and edit messages; Slack streams natively or posts and updates):
 *
 * - The first text goes out one `firstSendDelayMs` after the first delta, so a reply finished by
 *   then is a single message with no edits (with 0, at once: Slack's native stream starts with the
 *   first words). After that, at most one call per `editIntervalMs`, each showing everything
 *   written so far. When there is nothing new to show, the reply waits for the next delta instead
 *   of asking again every interval, and nothing is queued in the budget meanwhile.
 * - Previews run at `normal` priority and can be dropped while still queued; the final text runs
 *   at `high`, step after step until the platform shows all of it, so it always lands.
 * - A turn that fails midway finishes what is already visible, or shows nothing if nothing is.
 *
 * What a step sends is the platform's: a `ReplyPlanner` (src/core/adapter.ts) looks at the text
 * and at what it shows and names the one API call that brings them closer (post, edit, draft,
 * append…), then makes it. Every step runs inside the outbound budget (one task per chat at a
 * time), so the planner's state needs no locking, and a step retried after a 429 plans again
 * from the current text.
 *
 * `deliverEvents` drives replies from a turn's events; `nextChunkStep` is the usual plan for
 * text split into messages.
 */
import type { HandledMessage, Log, ReplyPlanner } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import { SKIPPED, type BeforeCall, type OutboundBudget, type Skipped } from './budget.js';

export type { ReplyPlanner } from '../../src/core/adapter.js';

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

export interface StreamOptions {
  /** The budget queue every step of this reply goes through (a chat, a channel, an interaction). */
  key: string;
  /** Names the platform in log lines. */
  platform: string;
  /** Added to log lines (e.g. `{ chatId }`). */
  logContext: Record<string, unknown>;
  /** Runs once, inside the budget's slot right before the reply's first platform call; when it rejects, nothing is sent and the reply fails with its error (`OutboundText.beforeFirstCall`). */
  beforeFirstCall?: (() => Promise<void>) | undefined;
}

export class StreamedReply<A = unknown> {
  private text = '';
  private final = false;
  private loop: Promise<void> | undefined;
  private pending: AbortController | undefined;
  /** `opts.beforeFirstCall` until it has run. */
  private firstCall: (() => Promise<void>) | undefined;
  /** Ends the pause between two previews early: only the final text taking over does. */
  private wakePause: (() => void) | undefined;
  /** Ends a wait for something new to show: a delta, or the final text. */
  private wakeText: (() => void) | undefined;

  constructor(
    private readonly planner: ReplyPlanner<A>,
    private readonly deps: StreamDeps,
    private readonly opts: StreamOptions,
  ) {
    this.firstCall = opts.beforeFirstCall;
  }

  /** How many messages are visible so far. */
  get visible(): number {
    return this.planner.visible;
  }

  /** Everything the model has written so far. */
  get written(): string {
    return this.text;
  }

  append(delta: string): void {
    this.text += delta;
    this.wakeText?.();
    this.loop ??= this.stream();
  }

  /** Land `finalText` completely (the preview loop stops; the remaining steps run at high priority). */
  async finish(finalText: string): Promise<void> {
    // The engine stores the reply trimmed. While that says the same as what streamed, keep the
    // streamed text: a native stream cannot take back a leading space it already showed.
    if (this.text.trim() !== finalText.trim() || !this.text.trim()) this.text = finalText;
    this.stopPreviews();
    while (this.planner.plan(this.text, true) !== undefined) {
      const r = await this.deps.budget.run(this.opts.key, (beforeCall) => this.step(true, beforeCall), { priority: 'high' });
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
    this.wakePause?.();
    this.wakeText?.();
  }

  private async stream(): Promise<void> {
    // With no first delay the first step is queued at once, before the next delta arrives.
    if (this.deps.tuning.firstSendDelayMs > 0) await this.pause(this.deps.tuning.firstSendDelayMs);
    while (!this.final) {
      if (!this.next(false)) {
        await this.textChanged(); // nothing new to show: queue nothing until the model writes more
        continue;
      }
      this.pending = new AbortController();
      try {
        await this.deps.budget.run(this.opts.key, (beforeCall) => this.step(false, beforeCall), { priority: 'normal', signal: this.pending.signal });
      } catch (err) {
        this.deps.log.warn({ err, ...this.opts.logContext }, `${this.opts.platform} preview failed; waiting for the final text`);
        return;
      }
      await this.pause(this.deps.tuning.editIntervalMs);
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.final || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakePause = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakePause = done;
    });
  }

  private textChanged(): Promise<void> {
    if (this.final) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeText = () => {
        this.wakeText = undefined;
        resolve();
      };
    });
  }

  /** The planner's next call; none for a preview once the final text has taken over. */
  private next(final: boolean): A | undefined {
    if (!final && this.final) return undefined;
    return this.planner.plan(this.text, final);
  }

  /** Runs inside the budget: one call, or SKIPPED (no slot used) when nothing needs showing. */
  private async step(final: boolean, beforeCall: BeforeCall): Promise<true | Skipped> {
    const a = this.next(final);
    if (a === undefined) return SKIPPED;
    const first = this.firstCall;
    if (first) {
      this.firstCall = undefined;
      await first();
    }
    await beforeCall();
    await this.planner.perform(a);
    return true;
  }
}

/** What one message of a reply shows: its id, and the source (Markdown) of its text. */
export interface Shown<Id> {
  messageId: Id;
  source: string;
}

/**
 * Messages an earlier attempt at a reply left, by part (noted before a crash), as a planner's
 * `shown`: what they show is not known, so each has a source no part equals and is edited to its part.
 */
export function shownBefore<Id>(earlier: ReadonlyMap<number, Id> | undefined): Shown<Id>[] {
  const shown: Shown<Id>[] = [];
  for (const [index, messageId] of earlier ?? []) shown[index] = { messageId, source: '\u0000' };
  return shown;
}

/** Post chunk `index` as a new message, or edit the message showing it into `source`. */
export interface ChunkStep {
  kind: 'send' | 'edit';
  index: number;
  source: string;
}

/** The first of `chunks[0..end)` that no message shows as it is: post it, or edit it. */
export function nextChunkStep(chunks: readonly string[], shown: readonly (Shown<unknown> | undefined)[], end = chunks.length): ChunkStep | undefined {
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
  /**
   * A new reply to stream the answer into; `first`: the turn's first. A recovered turn sends its
   * replies as one text, so only the first reply's messages are worth noting for it.
   */
  newReply(first: boolean): StreamedReply;
  /** The turn's `start` event (typing, the speaker's name, an acknowledgement). */
  start?(e: Extract<ReplyEvent, { type: 'start' }>): void | Promise<void>;
  /** A notice or error, shown after whatever part of an answer is visible. */
  notice(e: Notice): Promise<void>;
  /** "typing…", stopped when the answer or a notice arrives, and at the end. */
  typing?: { stop(): void } | undefined;
  /** A step failed; delivery goes on. */
  failed(err: unknown, what: string): void;
  /**
   * A reply the turn did not finish: show only what is already visible (the default), or
   * everything written so far — with `errorLine`, ending in the error instead of a separate
   * notice (Slack, where a thread reads better as one message).
   */
  unfinished?: { show: 'written'; errorLine?(text: string): string } | undefined;
}

/**
 * Show one turn's events: deltas stream into a reply, `done` lands its final text, a notice or
 * error finishes what is visible and then shows itself. Failures go to `failed` and delivery
 * goes on, because there is nobody to hand them to — the engine has already stored the reply.
 * When everything is shown (or has finally failed) the engine hears it (`holdDelivery`): only
 * then is the message answered for good, so a crash before leaves the reply to be sent again.
 */
export async function deliverEvents(events: AsyncIterable<ReplyEvent> & Pick<HandledMessage, 'holdDelivery'>, d: ReplyDelivery): Promise<void> {
  const delivered = events.holdDelivery?.();
  let reply: StreamedReply | undefined;
  let replies = 0;
  const newReply = () => d.newReply(replies++ === 0);
  const unfinished = (r: StreamedReply) => (d.unfinished?.show === 'written' && r.written.trim() ? r.finish(r.written) : r.abandon());
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
      else if (e.type === 'delta') (reply ??= newReply()).append(e.text);
      else if (e.type === 'done') {
        d.typing?.stop();
        const r = reply ?? newReply();
        reply = undefined;
        await safely('reply', () => r.finish(e.message.content));
        // Said at once, not when the stream ends: a crash between the send and this word sends
        // the reply again, so the window is kept as short as it can be.
        delivered?.();
      } else {
        d.typing?.stop();
        const r = reply;
        reply = undefined;
        const line = e.type === 'error' ? d.unfinished?.errorLine : undefined;
        if (r && line && r.written.trim()) {
          await safely('reply', () => r.finish(r.written + line(e.text)));
          continue;
        }
        if (r) await safely('partial reply', () => unfinished(r));
        await safely('notice', () => d.notice(e));
      }
    }
    const r = reply;
    if (r) await safely('partial reply', () => unfinished(r));
  } finally {
    d.typing?.stop();
    delivered?.();
  }
}
