/**
 * How one Slack reply is shown while the model writes it: two ReplyPlanners for the shared
 * StreamedReply, and the choice between them.
 *
 * - `NativeStream`: `chat.startStream` → `appendStream`* → `stopStream`, one message that grows,
 *   rendered by Slack from Markdown. Slack streams only inside a thread, and start/stop are Tier 2
 *   (20 a minute), so it is used for a preview while the tier has room.
 * - `PostAndUpdate`: `chat.postMessage` with the first words, then `chat.update` previews, in
 *   mrkdwn. Used in top-level DMs, where the workspace cannot stream, for replies complete before
 *   their first preview (one postMessage, nothing to update), and to finish a stream Slack closed.
 *
 * The tier gate's decision is made in `plan` (which only looks); `perform` counts the call.
 */
import type { Log, ReplyPlanner } from '../../src/core/adapter.js';
import { chunkText } from '../shared/chunk.js';
import { nextChunkStep, type ChunkStep, type Shown } from '../shared/streamed-reply.js';
import type { SlackTarget } from './keys.js';
import { toMrkdwn } from './mrkdwn.js';
import type { ReplyMarks } from './reply-marks.js';
import type { TierGate } from './tiers.js';
import type { ReplyTag, SlackTransport, TaggedMessage } from './transport.js';

/** The Web API calls replies need (the transport; a test may pass its own). */
export type SlackSender = Pick<SlackTransport, 'postMessage' | 'update' | 'postEphemeral' | 'startStream' | 'appendStream' | 'stopStream'>;

/** Where a reply goes: the conversation's channel and thread, and who it answers. */
export interface ReplyTarget extends SlackTarget {
  /** The person answered: Slack needs them as the recipient of a stream outside a DM. */
  recipient?: { userId: string; teamId: string } | undefined;
  /** Tags the reply's messages (`ReplyTag.key`): the answered event's id, or the proactive message's. */
  tag?: string | undefined;
}

/** Where a reply sent again takes up from what an earlier attempt left (see `resumeFrom`). */
export interface Resume {
  /** The text from here on is posted as messages… */
  from: number;
  /** …of which these are already there. */
  parts: Array<Shown<string> | undefined>;
}

/**
 * What an earlier attempt at a reply left in Slack, from its tagged messages: its native streams
 * that were closed cover the text up to the furthest `upTo`; from there on, the messages posted
 * from that point are reused, each edited to its part if it differs. A stream the crash left open
 * carries no tag (Slack takes metadata only when a stream stops): it is found by the note made
 * when it started (reply-marks.ts), and stopped and tagged as the first of those messages.
 */
export function resumeFrom(found: readonly TaggedMessage[]): Resume {
  const from = Math.max(0, ...found.map((m) => m.tag.upTo ?? 0));
  const parts: Resume['parts'] = [];
  for (const m of found) if (m.tag.upTo === undefined && m.tag.from === from && m.tag.part !== undefined) parts[m.tag.part] = { messageId: m.ts, source: m.text };
  return { from, parts };
}

/** What the planners of every reply share. */
export interface PlannerDeps {
  sender: SlackSender;
  gate: TierGate;
  log: Log;
  errorCode(err: unknown): string | undefined;
  retryAfterMs(err: unknown): number | undefined;
  /** Characters per posted message (mrkdwn text). */
  messageLimit: number;
  /** Characters per natively streamed message. */
  streamLimit: number;
  /** Cleared, for the whole process, once Slack says this workspace cannot stream. */
  streaming: { available: boolean };
  /** Where a reply notes that it began sending, the native stream it opened and the messages it posted (see reply-marks.ts). */
  marks: ReplyMarks;
}

/** Errors meaning "this workspace cannot stream": fall back and stop trying. */
const STREAMING_UNAVAILABLE = new Set(['unknown_method', 'not_allowed', 'not_allowed_token_type', 'method_not_supported', 'feature_not_enabled', 'missing_scope']);

/** Cut `s` to at most `room` characters, preferring a line break or space in the last half. */
function cutAt(s: string, room: number): string {
  const head = s.slice(0, room);
  const at = Math.max(head.lastIndexOf('\n'), head.lastIndexOf(' '));
  if (at >= room / 2) return s.slice(0, at + 1);
  const code = s.charCodeAt(room - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? room - 1 : room);
}

export type StreamStep = { kind: 'start' | 'append'; piece: string; full: boolean } | { kind: 'stop'; piece?: string | undefined };

/**
 * Native streaming: each stream holds up to `streamLimit` characters; a longer reply closes it
 * (`full`) and starts the next one in the same thread.
 */
class NativeStream implements ReplyPlanner<StreamStep> {
  /** How much of the text Slack has. */
  sent = 0;
  private stream: { ts: string; start: number; full: boolean } | undefined;
  private streams = 0;

  constructor(
    private readonly target: ReplyTarget & { threadTs: string },
    private readonly deps: PlannerDeps,
  ) {}

  get visible(): number {
    return this.streams;
  }

  plan(text: string, final: boolean): StreamStep | undefined {
    const allowed = (method: string) => final || this.deps.gate.hasRoom(method);
    const s = this.stream;
    const pending = text.slice(this.sent);
    if (s && (s.full || (final && pending.length === 0))) return allowed('chat.stopStream') ? { kind: 'stop' } : undefined;
    if (!pending) return undefined;
    const room = this.deps.streamLimit - (s ? this.sent - s.start : 0);
    const piece = pending.length <= room ? pending : cutAt(pending, room);
    const full = piece.length < pending.length;
    if (!s) return allowed('chat.startStream') ? { kind: 'start', piece, full } : undefined;
    if (final && !full) return { kind: 'stop', piece }; // the last words and the stop in one call
    return allowed('chat.appendStream') ? { kind: 'append', piece, full } : undefined;
  }

  async perform(a: StreamStep): Promise<void> {
    const { sender, gate } = this.deps;
    const { channel, threadTs, recipient } = this.target;
    if (a.kind === 'start') {
      gate.take('chat.startStream');
      const ts = await sender.startStream({ channel, threadTs, markdown: a.piece, recipientUserId: recipient?.userId, recipientTeamId: recipient?.teamId });
      this.stream = { ts, start: this.sent, full: a.full };
      this.streams++;
      if (this.target.tag !== undefined) await this.deps.marks.streamOpened(this.target.tag, { ts, start: this.sent });
    } else if (a.kind === 'append') {
      gate.take('chat.appendStream');
      await sender.appendStream({ channel, ts: this.open().ts, markdown: a.piece });
      this.open().full = a.full;
    } else {
      gate.take('chat.stopStream');
      const upTo = this.sent + (a.piece?.length ?? 0);
      await sender.stopStream({ channel, ts: this.open().ts, markdown: a.piece, tag: this.target.tag ? { key: this.target.tag, upTo } : undefined });
      this.stream = undefined;
    }
    this.sent += a.piece?.length ?? 0;
  }

  /** Nothing streamed or open yet: a failure now means streaming itself does not work. */
  get untouched(): boolean {
    return this.sent === 0 && !this.stream;
  }

  private open(): { ts: string; full: boolean } {
    if (!this.stream) throw new Error('slack: no open stream to continue');
    return this.stream;
  }
}

export type MessageStep = ChunkStep & { final: boolean; prepay: boolean };

/** Post and update: messages of up to `messageLimit` characters of mrkdwn, rendered from `from` on. */
class PostAndUpdate implements ReplyPlanner<MessageStep> {
  /** What each message shows; `prepaid` when its final chat.update was counted at preview time. */
  private readonly shown: Array<(Shown<string> & { prepaid: boolean }) | undefined> = [];

  constructor(
    private readonly target: ReplyTarget,
    private readonly deps: PlannerDeps,
    private readonly from = 0,
    already: Resume['parts'] = [],
  ) {
    already.forEach((s, i) => s && (this.shown[i] = { ...s, prepaid: false }));
  }

  get visible(): number {
    return this.shown.filter(Boolean).length;
  }

  plan(text: string, final: boolean): MessageStep | undefined {
    // Text that fits one message can only be previewed by posting or editing its last message,
    // and both need room for a chat.update. Without it there is nothing to do, so nothing is
    // rendered: while Tier 3 is spent this runs at every delta the model writes.
    if (!final && text.length - this.from <= this.deps.messageLimit && !this.deps.gate.hasRoom('chat.update')) return undefined;
    const want = chunkText(text.slice(this.from), this.deps.messageLimit).map(toMrkdwn);
    const step = nextChunkStep(want, this.shown);
    if (!step) return undefined;
    if (step.kind === 'send') {
      // A preview of text still growing commits us to a chat.update later (the final text). Pay
      // for it now, or do not preview: past Slack's Tier 3 the final update would wait ~a minute,
      // while a reply that is posted once, complete, needs no update at all.
      const prepay = !final && step.index === want.length - 1;
      if (prepay && !this.deps.gate.hasRoom('chat.update')) return undefined;
      return { ...step, final, prepay };
    }
    if (!final && !this.deps.gate.hasRoom('chat.update')) return undefined;
    return { ...step, final, prepay: false };
  }

  async perform(a: MessageStep): Promise<void> {
    const { sender, gate, log } = this.deps;
    const { channel, threadTs } = this.target;
    if (a.kind === 'send') {
      if (a.prepay) gate.take('chat.update');
      const tag: ReplyTag | undefined = this.target.tag ? { key: this.target.tag, from: this.from, part: a.index } : undefined;
      const ts = await sender.postMessage({ channel, text: a.source, threadTs, tag });
      this.shown[a.index] = { messageId: ts, source: a.source, prepaid: a.prepay };
      if (tag) await this.deps.marks.messagePosted(tag.key, { ts, from: this.from, part: a.index });
      return;
    }
    const have = this.shown[a.index];
    if (!have) return;
    if (!a.final || !have.prepaid) gate.take('chat.update');
    try {
      await sender.update({ channel, ts: have.messageId, text: a.source });
    } catch (err) {
      if (this.deps.retryAfterMs(err) !== undefined || !a.final) throw err;
      // The message is gone or can no longer be edited: the final text goes out as a new message.
      log.warn({ err, code: this.deps.errorCode(err) }, 'slack update failed; posting the text anew');
      this.shown[a.index] = undefined;
      return;
    }
    have.source = a.source;
    if (a.final) have.prepaid = false;
  }
}

export type SlackStep = { via: 'native'; step: StreamStep } | { via: 'messages'; step: MessageStep };

/** What of one reply Slack shows at `target`, and the Web API call that shows more; `resume` takes up an earlier attempt's messages. */
export function replyPlanner(target: ReplyTarget, deps: PlannerDeps, resume?: Resume): ReplyPlanner<SlackStep> {
  return new SlackReplyPlanner(target, deps, resume);
}

/**
 * One Slack reply: streams natively when a preview can (in a thread, streaming available, the
 * Tier 2 start has room), else posts and updates. The choice is made by the first call made, not
 * by planning: a reply complete before its first preview is one postMessage. A stream that fails
 * hands over to messages from where it got to; the user pressing stop ends the reply there.
 */
class SlackReplyPlanner implements ReplyPlanner<SlackStep> {
  private mode: 'native' | 'messages' | undefined;
  private readonly native: NativeStream | undefined;
  private messages: PostAndUpdate;
  private stopped = false;

  constructor(
    private readonly target: ReplyTarget,
    private readonly deps: PlannerDeps,
    resume?: Resume,
  ) {
    const { threadTs } = target;
    // Outside a DM, Slack streams only to a named recipient.
    const streamable = threadTs !== undefined && (target.dm || target.recipient !== undefined);
    this.native = streamable && !resume ? new NativeStream({ ...target, threadTs }, deps) : undefined;
    this.messages = new PostAndUpdate(target, deps, resume?.from, resume?.parts);
    if (resume) this.mode = 'messages';
  }

  get visible(): number {
    return (this.native?.visible ?? 0) + this.messages.visible;
  }

  plan(text: string, final: boolean): SlackStep | undefined {
    if (this.stopped) return undefined;
    if ((this.mode ?? this.choose(final)) === 'native' && this.native) {
      const step = this.native.plan(text, final);
      return step && { via: 'native', step };
    }
    const step = this.messages.plan(text, final);
    return step && { via: 'messages', step };
  }

  async perform(a: SlackStep): Promise<void> {
    // Noted before Slack may show anything, so an attempt after a crash knows whether to look.
    if (this.mode === undefined && this.target.tag !== undefined) await this.deps.marks.sending(this.target.tag);
    this.mode ??= a.via;
    if (a.via === 'messages') return this.messages.perform(a.step);
    const native = this.native;
    if (!native) return;
    try {
      await native.perform(a.step);
    } catch (err) {
      if (this.deps.retryAfterMs(err) !== undefined) throw err; // the budget waits and retries this step
      this.recover(err, native);
    }
  }

  /** A complete reply is one postMessage; a preview streams natively where it can. */
  private choose(final: boolean): 'native' | 'messages' {
    return !final && this.native && this.deps.streaming.available && this.deps.gate.hasRoom('chat.startStream') ? 'native' : 'messages';
  }

  /** A stream call failed for a reason other than a rate limit: change course so the text still lands. */
  private recover(err: unknown, native: NativeStream): void {
    const code = this.deps.errorCode(err);
    if (code === 'stopped_by_user') {
      this.stopped = true; // the user pressed stop: respect it
      return;
    }
    if (native.untouched && code !== undefined && STREAMING_UNAVAILABLE.has(code)) {
      this.deps.streaming.available = false;
      this.deps.log.info({ code }, 'slack native streaming unavailable; using chat.update from now on');
    } else this.deps.log.warn({ err, code }, 'slack stream failed; finishing the reply as messages');
    // Whatever Slack already shows stays; the rest goes out as ordinary messages.
    this.mode = 'messages';
    this.messages = new PostAndUpdate(this.target, this.deps, native.sent);
  }
}
