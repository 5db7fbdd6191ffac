/**
 * ReplyEvents → Slack messages, within Slack's limits.
 *
 * A reply streams through the shared StreamedReply with Slack's planners (planners.ts): natively
 * in threads where the workspace allows it, else posted and updated. Slack paces itself by its
 * limits rather than by a clock, so a preview goes out as soon as the channel's budget allows, and
 * waits for new text when there is nothing new to show.
 *
 * Every call goes through the shared outbound budget, keyed by channel (Slack's per-channel
 * posting limit, ~1/s with bursts), which also waits out any 429 and retries. Slack's
 * workspace-wide method tiers are kept by the tier gate (tiers.ts): optional work only runs while
 * a tier has room beyond its reserve, so the final text always fits. The final text always lands;
 * long replies are split (3,900 characters per message, 12,000 per stream).
 */
import type { Log, SendMarks } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import type { SharedTallyFactory, SharedWindowFactory } from '../../src/core/outbound-window.js';
import { OutboundBudget, type RateWindow } from '../shared/budget.js';
import { rememberedChannels, sharedChannels } from '../shared/shared-window.js';
import { chunkText } from '../shared/chunk.js';
import { deliverEvents, StreamedReply, type StreamTuning } from '../shared/streamed-reply.js';
import { toMrkdwn } from './mrkdwn.js';
import type { ReplyPlanner } from '../../src/core/adapter.js';
import { replyPlanner, resumeFrom, type PlannerDeps, type ReplyTarget, type Resume, type SlackSender, type SlackStep } from './planners.js';
import { ReplyMarks, type EarlierAttempt, type StreamMark } from './reply-marks.js';
import { TierGate } from './tiers.js';
import type { SlackTransport, TaggedMessage, UntaggedMessage } from './transport.js';

export type { ReplyTarget, SlackSender } from './planners.js';
export { TierGate } from './tiers.js';

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
    'conversations.history': { max: 50, windowMs: 60_000 },
    'conversations.replies': { max: 50, windowMs: 60_000 },
  },
};

/** How far back a reply sent again looks for an earlier attempt's messages. */
const EARLIER_ATTEMPT_MS = 86_400_000;
/** How far before a reply's noted start its lookup reads: instances' clocks and Slack's differ a little. */
const NOTED_SINCE_MARGIN_MS = 60_000;

/** Slack truncates long `text` and sections hold ~3,000; ~3,900 keeps one message one screen. */
export const MESSAGE_LIMIT = 3900;
/** Slack's limit for `markdown_text` in the streaming calls (and the markdown block it becomes). */
export const STREAM_LIMIT = 12_000;

/** No clock pacing: the first words go out at once (a native stream starts with them), then as the budget allows. */
const PACED_BY_LIMITS: StreamTuning = { firstSendDelayMs: 0, editIntervalMs: 0 };

export interface OutboundOptions {
  /** With `taggedReplies`, a reply sent again takes up what an earlier attempt showed. */
  sender: SlackSender & Partial<Pick<SlackTransport, 'taggedReplies'>>;
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
  /** Where replies note that they began sending and the native streams they opened (the adapters' `SendMarks`; see reply-marks.ts). */
  marks?: SendMarks | undefined;
  /**
   * With several instances: where each channel's window and each method's tier are counted by all
   * of them. A single instance: where the tiers and each channel's window are kept past a restart
   * (`tallies`, `chats`). `bot` names the app.
   */
  shared?: { windows?: SharedWindowFactory | undefined; tallies?: SharedTallyFactory | undefined; chats?: SharedTallyFactory | undefined; bot: string } | undefined;
}

export class SlackOutbound {
  readonly budget: OutboundBudget;
  readonly gate: TierGate;
  private readonly planners: PlannerDeps;
  private readonly now: () => number;

  constructor(private readonly o: OutboundOptions) {
    const pacing = { ...DEFAULT_PACING, ...o.pacing };
    // A call held back because Slack refuses its tier is waited out as a 429 would be.
    const retryAfterMs = (err: unknown) => (err instanceof TierRefused ? err.ms : o.retryAfterMs(err));
    const now = (this.now = o.now ?? Date.now);
    this.budget = new OutboundBudget({
      windowsFor: () => pacing.perChannel,
      ...(o.shared?.windows ? { sharedChats: sharedChannels(o.shared.windows, o.shared.bot) } : {}),
      ...(o.shared?.chats ? { rememberedChats: rememberedChannels(o.shared.chats, o.shared.bot) } : {}),
      retryAfterMs,
      now,
      ...(o.sleep ? { sleep: o.sleep } : {}),
      onRateLimited: (channel, ms, err) =>
        err instanceof TierRefused
          ? o.log.debug({ channel, waitMs: ms }, 'slack: a call waits while Slack refuses its tier')
          : o.log.warn({ channel, retryAfterMs: ms }, 'slack rate limit: waiting it out'),
    });
    const { tallies, bot } = o.shared ?? {};
    this.gate = new TierGate(pacing.tiers, now, tallies && ((method, w) => tallies(`${bot}:tier:${method}`, w)));
    this.planners = {
      sender: tierAware(o.sender, this.gate, o.retryAfterMs),
      gate: this.gate,
      log: o.log,
      errorCode: o.errorCode,
      retryAfterMs,
      messageLimit: o.messageLimit ?? MESSAGE_LIMIT,
      streamLimit: o.streamLimit ?? STREAM_LIMIT,
      streaming: { available: o.nativeStreaming ?? true },
      marks: new ReplyMarks(o.marks, o.log, now),
    };
  }

  /** The planner for one reply at `target`; `resume` takes up an earlier attempt's messages. */
  planner(target: ReplyTarget, resume?: Resume): ReplyPlanner<SlackStep> {
    return replyPlanner(target, this.planners, resume);
  }

  /** One reply streamed to `target`, through the channel's budget (`beforeFirstCall`: see `StreamOptions`). */
  streamedReply(target: ReplyTarget, resume?: Resume, beforeFirstCall?: () => Promise<void>): StreamedReply<SlackStep> {
    return new StreamedReply(this.planner(target, resume), { budget: this.budget, log: this.o.log, tuning: PACED_BY_LIMITS }, {
      key: target.channel,
      platform: 'slack',
      logContext: { channel: target.channel },
      beforeFirstCall,
    });
  }

  /**
   * Show one turn's events in Slack. Never throws: failures are logged, the turn is already
   * stored. A reply cut short is shown as far as it was written, its error as the last line.
   */
  async deliverReply(events: AsyncIterable<ReplyEvent>, target: ReplyTarget): Promise<void> {
    await deliverEvents(events, {
      newReply: () => this.streamedReply(target),
      notice: (e) => this.postText(target, e.text, e.type === 'notice' && e.ephemeral ? target.recipient?.userId : undefined),
      failed: (err, what) => this.o.log.error({ err, channel: target.channel, what }, 'slack reply could not be delivered'),
      unfinished: { show: 'written', errorLine: (text) => `\n\n_${text}_` },
    });
  }

  /**
   * Markdown sent at once (proactive messages, recovered replies): a reply with no preview, split
   * when long. Throws when Slack refuses, so a proactive delivery is retried later. `maybeSent`
   * (with `target.tag`): an earlier attempt may have shown some or all of it, so its tagged
   * messages are looked up first and edited to the text where they differ; only what is missing
   * is posted. `beforeFirstCall` runs right before the first call that shows anything (the lookup only reads).
   */
  async sendText(target: ReplyTarget, markdown: string, o: { maybeSent?: boolean | undefined; beforeFirstCall?: (() => Promise<void>) | undefined } = {}): Promise<void> {
    const resume = o.maybeSent && target.tag !== undefined ? await this.earlierAttempt(target, target.tag, markdown) : undefined;
    if (resume && resume.from >= markdown.length) return; // closed streams already show all of it
    await this.streamedReply(target, resume, o.beforeFirstCall).finish(markdown);
  }

  /**
   * What an earlier attempt at the reply `key` left; undefined when nothing, or when Slack cannot
   * say (then it may show twice). An attempt that never began sending (its note says so) left
   * nothing, and costs no lookup.
   */
  private async earlierAttempt(target: ReplyTarget, key: string, markdown: string): Promise<Resume | undefined> {
    const find = this.o.sender.taggedReplies;
    if (!find) return undefined;
    const earlier = await this.planners.marks.earlier(key);
    if (earlier.sent === false) return undefined;
    // One try: a lookup Slack rate-limits (Tier 3; a burst of recoveries after a crash can spend
    // it) is not waited out, because recovery would hold up every chat behind it. The reply is
    // then sent whole: maybe twice, never late and never lost.
    const method = target.threadTs ? 'conversations.replies' : 'conversations.history';
    if (!this.gate.hasRoom(method)) {
      const noted = await this.notedAttempt(target, key, earlier);
      if (noted.length) return resumeFrom(noted);
      this.o.log.warn({ channel: target.channel, method }, 'slack: no room to look for an earlier attempt at this reply (rate limited), and nothing noted of it; sending it whole');
      return undefined;
    }
    try {
      this.gate.take(method);
      // From when the first attempt began, as noted (less a margin for clocks and Slack's own
      // timestamps): a thread's replies come oldest first, and a long DM thread's first page would
      // hold only replies older than the attempt.
      const since = earlier.sent === true && earlier.since !== undefined ? earlier.since - NOTED_SINCE_MARGIN_MS : this.now() - EARLIER_ATTEMPT_MS;
      const { tagged: found, untagged } = await find.call(this.o.sender, { channel: target.channel, threadTs: target.threadTs, key, oldestMs: since });
      // What the notes name and the lookup did not return (a page that still missed it) is the reply's too.
      if (earlier.sent === true) {
        for (const p of earlier.posted) if (!found.some((m) => m.ts === p.ts)) found.push({ ts: p.ts, text: '', tag: { key, from: p.from, part: p.part } });
      }
      // A stream whose note never landed (its process died between Slack opening it and the note)
      // is the bot's untagged message showing the reply's first words.
      const stream = earlier.sent !== true ? undefined : (earlier.stream ?? (found.length ? undefined : unnotedStream(untagged, markdown)));
      const open = stream ? await this.leftOpen(target, key, stream, found) : undefined;
      if (open) found.push(open);
      return found.length ? resumeFrom(found) : undefined;
    } catch (err) {
      const ms = this.o.retryAfterMs(err);
      if (ms !== undefined) this.gate.refused(method, ms);
      const noted = await this.notedAttempt(target, key, earlier);
      if (noted.length) return resumeFrom(noted);
      this.o.log.warn({ err, code: this.o.errorCode(err), channel: target.channel }, 'slack: could not look for an earlier attempt at this reply, and nothing noted of it; sending it whole');
      return undefined;
    }
  }

  /**
   * An earlier attempt as its notes tell it, for when Slack will not be asked: the messages it
   * posted (edited to their parts, since what they show is not known) and a stream it opened from
   * the reply's first words (stopped if the crash left it open). A stream that failed part-way and
   * went on as messages is not pieced together: its messages are then posted again.
   */
  private async notedAttempt(target: ReplyTarget, key: string, earlier: EarlierAttempt): Promise<TaggedMessage[]> {
    if (earlier.sent !== true) return [];
    const found: TaggedMessage[] = earlier.posted.map((p) => ({ ts: p.ts, text: '', tag: { key, from: p.from, part: p.part } }));
    const stream = earlier.stream;
    const open = stream?.start === 0 ? await this.leftOpen(target, key, stream, found) : undefined;
    if (open) found.push(open);
    return found;
  }

  /**
   * The native stream an earlier attempt at reply `key` opened (`mark`) and never stopped (Slack
   * shows no metadata on it until it stops), stopped now and tagged as the first message of the
   * text from where it began, so the reply is edited into it instead of posted beside it. A
   * stream the user stopped ends the reply there, as it does live. Undefined when it was stopped
   * and tagged already, or Slack will not stop it (then it shows twice).
   */
  private async leftOpen(target: ReplyTarget, key: string, mark: StreamMark, found: readonly TaggedMessage[]): Promise<TaggedMessage | undefined> {
    if (found.some((m) => m.ts === mark.ts)) return undefined;
    const tag = { key, from: mark.start, part: 0 };
    this.o.log.info({ channel: target.channel, ts: mark.ts }, 'slack: finishing the stream an earlier attempt at this reply left open');
    try {
      // Through the channel's budget, which waits out a 429: a stream left open beside the reply
      // shows its first words twice, for good.
      await this.budget.run(
        target.channel,
        async (beforeCall) => {
          await beforeCall();
          this.gate.take('chat.stopStream');
          await this.planners.sender.stopStream({ channel: target.channel, ts: mark.ts, tag });
        },
        { priority: 'high' },
      );
    } catch (err) {
      const code = this.o.errorCode(err);
      if (code === 'stopped_by_user') return { ts: mark.ts, text: '', tag: { key, upTo: Number.MAX_SAFE_INTEGER } };
      // Slack ended it itself (streams last minutes): it is an ordinary message now, and editable.
      if (code !== 'message_not_in_streaming_state') {
        this.o.log.warn({ err, code, channel: target.channel }, 'slack: could not stop the stream an earlier attempt left open; sending the reply beside it');
        return undefined;
      }
    }
    return { ts: mark.ts, text: '', tag };
  }

  /**
   * Post Markdown as mrkdwn messages (split when long) at high priority: notices. `ephemeralTo`
   * shows it to that user only (in DMs it is posted normally).
   */
  async postText(target: ReplyTarget, markdown: string, ephemeralTo?: string): Promise<void> {
    const ephemeral = ephemeralTo !== undefined && !target.dm;
    for (const chunk of chunkText(markdown, this.planners.messageLimit)) {
      const text = toMrkdwn(chunk);
      await this.budget.run(
        target.channel,
        async (beforeCall) => {
          await beforeCall();
          if (!ephemeral) return this.o.sender.postMessage({ channel: target.channel, text, threadTs: target.threadTs });
          this.gate.take('chat.postEphemeral');
          return this.o.sender.postEphemeral({ channel: target.channel, user: ephemeralTo, text, threadTs: target.threadTs });
        },
        { priority: 'high' },
      );
    }
  }
}

/** The sender's calls by the Web API method (and tier) each one is. */
const METHOD_OF: Record<keyof SlackSender, string> = {
  postMessage: 'chat.postMessage',
  update: 'chat.update',
  postEphemeral: 'chat.postEphemeral',
  startStream: 'chat.startStream',
  appendStream: 'chat.appendStream',
  stopStream: 'chat.stopStream',
};

/**
 * A call not made: Slack refuses its tier for `ms` more (this instance's 429, or another's told
 * through the tally), so it would only draw another 429. Waited out as one (`retryAfterMs`).
 */
class TierRefused extends Error {
  constructor(
    method: string,
    readonly ms: number,
  ) {
    super(`slack: ${method} is refused for ${ms} ms more; the call waits`);
  }
}

/**
 * The native stream an earlier attempt opened but never noted (its process died between Slack
 * opening it and the note landing): the bot's untagged message, since the attempt began, whose
 * text is the start of this reply. Only a stream from the reply's first words is found; anything
 * less like it (a notice) is left alone, and the reply is then sent as before.
 */
function unnotedStream(untagged: readonly UntaggedMessage[], markdown: string): StreamMark | undefined {
  const words = (t: string) => t.replace(/\s+/g, ' ').trim();
  const whole = words(markdown);
  const shown = untagged.find((m) => words(m.text) !== '' && whole.startsWith(words(m.text)));
  return shown ? { ts: shown.ts, start: 0 } : undefined;
}

/**
 * `sender`, telling the gate when Slack refuses a call with a 429 (the tier is spent for
 * Retry-After), and holding a call back while its tier is refused.
 */
function tierAware(sender: SlackSender, gate: TierGate, retryAfterMs: (err: unknown) => number | undefined): SlackSender {
  const wrapped = {} as Record<keyof SlackSender, unknown>;
  for (const name of Object.keys(METHOD_OF) as Array<keyof SlackSender>) {
    const call = (sender[name] as (a: unknown) => Promise<unknown>).bind(sender);
    wrapped[name] = async (a: unknown) => {
      const held = gate.refusalLeft(METHOD_OF[name]);
      if (held > 0) throw new TierRefused(METHOD_OF[name], held);
      try {
        return await call(a);
      } catch (err) {
        const ms = retryAfterMs(err);
        if (ms !== undefined) gate.refused(METHOD_OF[name], ms);
        throw err;
      }
    };
  }
  return wrapped as SlackSender;
}
