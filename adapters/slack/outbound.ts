/**
 * ReplyEvents → Slack messages, within Slack's limits.
 *
 * Two ways to show a reply while the model writes it:
 * - Native streaming (`chat.startStream` → `appendStream`* → `stopStream`): one message that grows,
 *   rendered by Slack from Markdown. Slack only streams replies inside a thread, so it is used
 *   for channel threads (and DM threads); Slack's Tier 2 limit (20/min) on start/stop means it
 *   is used while there is room, else the reply falls back.
 * - Fallback: `chat.postMessage` with the first words, then `chat.update` previews, in mrkdwn.
 *   Used in top-level DMs, when the workspace lacks streaming (`unknown_method`, remembered for
 *   the process), and to finish a stream Slack closed early.
 *
 * Every call goes through the shared outbound budget, keyed by channel (Slack's per-channel
 * posting limit, ~1/s with bursts), which also waits out any 429 and retries. Slack's
 * workspace-wide method tiers are tracked by a small gate: optional work (previews, starting a
 * stream) only runs while the tier has room beyond a reserve, so required work — the final
 * text — always fits. The final text always lands; long replies are split (3,900 characters
 * per message, 12,000 per stream, cut at paragraph/line/sentence boundaries).
 */
import type { Log } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import { OutboundBudget, SKIPPED, type Priority, type RateWindow, type Skipped } from '../shared/budget.js';
import { chunkText } from '../shared/chunk.js';
import type { ReplyTarget } from './inbound.js';
import { toMrkdwn } from './mrkdwn.js';
import type { SlackTransport } from './transport.js';

/** The Web API calls outbound needs (the transport; a test may pass its own). */
export type SlackSender = Pick<SlackTransport, 'postMessage' | 'update' | 'postEphemeral' | 'startStream' | 'appendStream' | 'stopStream'>;

export interface SlackPacing {
  /** Windows for every message call in one channel. */
  perChannel: RateWindow[];
  /** Workspace-wide windows per Web API method (Slack's tiers). */
  tiers: Record<string, RateWindow>;
}

/** Slack: chat.postMessage ~1/s per channel with short bursts; update Tier 3; start/stop Tier 2; append Tier 4. */
export const DEFAULT_PACING: SlackPacing = {
  perChannel: [{ max: 3, windowMs: 3000, reserve: 1 }],
  tiers: {
    'chat.update': { max: 50, windowMs: 60_000, reserve: 15 },
    'chat.startStream': { max: 20, windowMs: 60_000, reserve: 5 },
    'chat.appendStream': { max: 100, windowMs: 60_000, reserve: 20 },
    'chat.stopStream': { max: 20, windowMs: 60_000, reserve: 5 },
    'chat.postEphemeral': { max: 100, windowMs: 60_000, reserve: 10 },
  },
};

/** Slack truncates long `text` and sections hold ~3,000; ~3,900 keeps one message one screen. */
export const MESSAGE_LIMIT = 3900;
/** Slack's limit for `markdown_text` in the streaming calls (and the markdown block it becomes). */
export const STREAM_LIMIT = 12_000;

/** Errors meaning "this workspace cannot stream": fall back and stop trying. */
const STREAMING_UNAVAILABLE = new Set(['unknown_method', 'not_allowed', 'not_allowed_token_type', 'method_not_supported', 'feature_not_enabled', 'missing_scope']);

/** Sliding windows per method: optional work asks, required work is counted. */
export class TierGate {
  private hits = new Map<string, number[]>();
  constructor(
    private readonly tiers: Record<string, RateWindow>,
    private readonly now: () => number,
  ) {}

  /** For optional work: take a slot if one is free below the reserve. */
  tryTake(method: string): boolean {
    const w = this.tiers[method];
    if (!w) return true;
    const recent = this.recent(method, w);
    if (recent.length >= w.max - (w.reserve ?? 0)) return false;
    recent.push(this.now());
    return true;
  }

  /** For required work: always proceeds, and counts, so optional work backs off. */
  take(method: string): void {
    const w = this.tiers[method];
    if (w) this.recent(method, w).push(this.now());
  }

  private recent(method: string, w: RateWindow): number[] {
    const t = this.now();
    const kept = (this.hits.get(method) ?? []).filter((x) => x > t - w.windowMs);
    this.hits.set(method, kept);
    return kept;
  }
}

export interface OutboundOptions {
  sender: SlackSender;
  log: Log;
  errorCode: (err: unknown) => string | undefined;
  retryAfterMs: (err: unknown) => number | undefined;
  pacing?: Partial<SlackPacing> | undefined;
  messageLimit?: number | undefined;
  streamLimit?: number | undefined;
  /** Try native streaming at all (default true). */
  nativeStreaming?: boolean | undefined;
  now?: (() => number) | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

export class SlackOutbound {
  readonly budget: OutboundBudget;
  readonly gate: TierGate;
  /** False once Slack said the streaming methods do not exist here. */
  nativeAvailable: boolean;
  readonly messageLimit: number;
  readonly streamLimit: number;

  constructor(readonly o: OutboundOptions) {
    const pacing = { ...DEFAULT_PACING, ...o.pacing };
    const now = o.now ?? Date.now;
    this.budget = new OutboundBudget({
      windowsFor: () => pacing.perChannel,
      retryAfterMs: o.retryAfterMs,
      now,
      ...(o.sleep ? { sleep: o.sleep } : {}),
      onRateLimited: (channel, ms) => o.log.warn({ channel, retryAfterMs: ms }, 'slack rate limit: waiting it out'),
    });
    this.gate = new TierGate(pacing.tiers, now);
    this.nativeAvailable = o.nativeStreaming ?? true;
    this.messageLimit = o.messageLimit ?? MESSAGE_LIMIT;
    this.streamLimit = o.streamLimit ?? STREAM_LIMIT;
  }

  /** Show one turn's events in Slack. Never throws: failures are logged, the turn is already stored. */
  async deliverReply(events: AsyncIterable<ReplyEvent>, target: ReplyTarget): Promise<void> {
    let writer: ReplyWriter | undefined;
    const w = () => (writer ??= new ReplyWriter(this, target));
    try {
      for await (const e of events) {
        if (e.type === 'delta') w().add(e.text);
        else if (e.type === 'done') {
          if (!w().hasText) w().add(e.message.content);
          await w().finish();
        } else if (e.type === 'error') {
          if (writer?.hasText) {
            writer.add(`\n\n_${e.text}_`);
            await writer.finish();
          } else await this.postText(target, e.text);
        } else if (e.type === 'notice') {
          await this.postText(target, e.text, e.ephemeral ? target.userId : undefined);
        }
      }
      if (writer && !writer.finished) await writer.finish();
    } catch (err) {
      this.o.log.error({ err, channel: target.channel }, 'slack reply could not be delivered');
    }
  }

  /**
   * Post Markdown as mrkdwn messages (split when long) at high priority: notices, proactive
   * messages. `ephemeralTo` shows it to that user only (in DMs it is posted normally). Throws
   * when Slack refuses, so a proactive delivery is retried later.
   */
  async postText(target: { channel: string; threadTs?: string | undefined }, markdown: string, ephemeralTo?: string): Promise<void> {
    const ephemeral = ephemeralTo !== undefined && !target.channel.startsWith('D');
    for (const chunk of chunkText(markdown, this.messageLimit)) {
      const text = toMrkdwn(chunk);
      await this.budget.run(
        target.channel,
        async () => {
          if (!ephemeral) return this.o.sender.postMessage({ channel: target.channel, text, threadTs: target.threadTs });
          this.gate.take('chat.postEphemeral');
          return this.o.sender.postEphemeral({ channel: target.channel, user: ephemeralTo, text, threadTs: target.threadTs });
        },
        { priority: 'high' },
      );
    }
  }
}

/** Cut `s` to at most `room` characters, preferring a line break or space in the last half. */
function cutAt(s: string, room: number): string {
  const head = s.slice(0, room);
  const at = Math.max(head.lastIndexOf('\n'), head.lastIndexOf(' '));
  if (at >= room / 2) return s.slice(0, at + 1);
  const code = s.charCodeAt(room - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? room - 1 : room);
}

/**
 * One reply on its way out. Every API call is one budget task that looks at the current state
 * when its turn comes ("what is the next thing to send?"), so previews coalesce, a retried task
 * after a 429 stays correct, and the final text is whatever the model ended with.
 */
class ReplyWriter {
  private text = '';
  finished = false;
  private mode: 'undecided' | 'native' | 'messages' = 'undecided';
  /** Native: the open stream; `sent` is how much of `text` Slack has. `full` when it reached the stream limit. */
  private stream: { ts: string; start: number; full: boolean } | undefined;
  private sent = 0;
  /** Messages mode renders `text` from here (after a stream Slack closed early). */
  private from = 0;
  /** Messages mode: what each message shows; `prepaid` when its final chat.update was counted at preview time. */
  private messages: Array<{ ts: string; shown: string; prepaid: boolean }> = [];
  private previewQueued = false;
  private previewAbort: AbortController | undefined;
  private abandoned = false;

  constructor(
    private readonly out: SlackOutbound,
    private readonly target: ReplyTarget,
  ) {}

  get hasText(): boolean {
    return this.text.trim().length > 0;
  }

  add(delta: string): void {
    this.text += delta;
    this.schedulePreview();
  }

  /** Send everything that is left, at high priority, until Slack shows the whole text. */
  async finish(): Promise<void> {
    this.finished = true;
    this.previewAbort?.abort();
    if (this.mode === 'undecided') this.mode = 'messages'; // a complete reply is one postMessage, no stream needed
    for (let i = 0; i < 10_000 && !this.abandoned; i++) {
      const r = await this.out.budget.run(this.target.channel, () => this.step('high'), { priority: 'high' });
      if (r === SKIPPED) return;
    }
  }

  private schedulePreview(): void {
    if (this.finished || this.previewQueued || !this.hasText) return;
    this.previewQueued = true;
    const ac = new AbortController();
    this.previewAbort = ac;
    const task = () => {
      this.previewQueued = false;
      return this.step('normal');
    };
    this.out.budget.run(this.target.channel, task, { priority: 'normal', signal: ac.signal }).then(
      (r) => {
        if (r !== SKIPPED) this.schedulePreview();
      },
      (err: unknown) => this.out.o.log.warn({ err, channel: this.target.channel }, 'slack preview failed'),
    );
  }

  /** Perform the next API call this reply needs, or SKIPPED when there is none (or none allowed now). */
  private async step(p: Priority): Promise<unknown> {
    if (this.abandoned || (p === 'normal' && this.finished)) return SKIPPED;
    if (this.mode === 'undecided') {
      const t = this.target;
      const native = this.out.nativeAvailable && t.threadTs !== undefined && this.out.gate.tryTake('chat.startStream');
      this.mode = native ? 'native' : 'messages';
    }
    try {
      return this.mode === 'native' ? await this.nativeStep(p) : await this.messageStep(p);
    } catch (err) {
      if (this.out.o.retryAfterMs(err) !== undefined) throw err; // the budget waits and retries this step
      return this.recover(err, p);
    }
  }

  private async nativeStep(p: Priority): Promise<unknown> {
    const { sender } = this.out.o;
    const { channel, threadTs, userId, teamId } = this.target;
    const gate = (method: string) => (p === 'high' ? (this.out.gate.take(method), true) : this.out.gate.tryTake(method));
    const s = this.stream;
    const pending = this.text.slice(this.sent);
    if (s?.full || (s && this.finished && pending.length === 0)) {
      if (!gate('chat.stopStream')) return SKIPPED;
      await sender.stopStream({ channel, ts: s.ts });
      this.stream = undefined;
      return true;
    }
    if (!pending) return SKIPPED;
    const room = this.out.streamLimit - (s ? this.sent - s.start : 0);
    const piece = pending.length <= room ? pending : cutAt(pending, room);
    if (!s) {
      // The first stream of a reply was granted when the mode was chosen; later ones (long replies) ask.
      if (this.sent > 0 && !gate('chat.startStream')) return SKIPPED;
      const ts = await sender.startStream({ channel, threadTs: threadTs as string, markdown: piece, recipientUserId: userId, recipientTeamId: teamId });
      this.stream = { ts, start: this.sent, full: piece.length < pending.length };
    } else if (this.finished && piece === pending) {
      gate('chat.stopStream');
      await sender.stopStream({ channel, ts: s.ts, markdown: piece }); // the last words and the stop in one call
      this.stream = undefined;
    } else {
      if (!gate('chat.appendStream')) return SKIPPED;
      await sender.appendStream({ channel, ts: s.ts, markdown: piece });
      s.full = piece.length < pending.length;
    }
    this.sent += piece.length;
    return true;
  }

  private async messageStep(p: Priority): Promise<unknown> {
    const { sender } = this.out.o;
    const { channel, threadTs } = this.target;
    const want = chunkText(this.text.slice(this.from), this.out.messageLimit).map(toMrkdwn);
    const i = want.findIndex((text, k) => this.messages[k]?.shown !== text || this.messages[k]?.ts === '');
    const text = want[i];
    if (i < 0 || text === undefined) return SKIPPED;
    const have = this.messages[i];
    if (!have || have.ts === '') {
      // A preview of text still growing commits us to a chat.update later (the final text). Pay
      // for it now, or do not preview: past Slack's Tier 3 the final update would wait ~a minute,
      // while a reply that is posted once, complete, needs no update at all.
      const prepaid = p === 'normal' && i === want.length - 1;
      if (prepaid && !this.out.gate.tryTake('chat.update')) return SKIPPED;
      const ts = await sender.postMessage({ channel, text, threadTs });
      this.messages[i] = { ts, shown: text, prepaid };
      return true;
    }
    if (p === 'normal' && !this.out.gate.tryTake('chat.update')) return SKIPPED;
    if (p === 'high' && !have.prepaid) this.out.gate.take('chat.update');
    try {
      await sender.update({ channel, ts: have.ts, text });
    } catch (err) {
      if (this.out.o.retryAfterMs(err) !== undefined || p === 'normal') throw err;
      // The message is gone or can no longer be edited: the final text goes out as a new message.
      this.out.o.log.warn({ err, code: this.out.o.errorCode(err) }, 'slack update failed; posting the text anew');
      have.ts = '';
      return true;
    }
    have.shown = text;
    if (p === 'high') have.prepaid = false;
    return true;
  }

  /** A call failed for a reason other than a rate limit: change course so the text still lands. */
  private recover(err: unknown, p: Priority): unknown {
    const code = this.out.o.errorCode(err);
    const log = this.out.o.log;
    if (this.mode === 'messages') {
      if (p === 'high') throw err; // posting itself fails: nothing else to try
      return SKIPPED; // a preview failed; the final text will try again
    }
    if (code === 'stopped_by_user') {
      this.abandoned = true; // the user pressed stop: respect it
      return SKIPPED;
    }
    if (!this.stream && this.sent === 0 && code !== undefined && STREAMING_UNAVAILABLE.has(code)) {
      this.out.nativeAvailable = false;
      log.info({ code }, 'slack native streaming unavailable; using chat.update from now on');
    } else log.warn({ err, code }, 'slack stream failed; finishing the reply as messages');
    // Whatever Slack already shows stays; the rest goes out as ordinary messages.
    this.mode = 'messages';
    this.from = this.sent;
    this.stream = undefined;
    return true;
  }
}
