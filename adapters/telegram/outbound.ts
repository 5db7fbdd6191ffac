/**
 * ReplyStream → Telegram. One reply is shown as it is written, within Telegram's limits:
 *
 * - "typing…" from the turn's start until it ends, renewed every ~4 s, only when the chat's
 *   budget is idle (it must never delay a real message).
 * - The first text goes out one interval after the first delta; a reply finished by then is
 *   sent as one message with no edits. After that, at most one edit (or draft) per interval,
 *   each showing everything written so far, skipping updates that would change nothing.
 * - In private chats, previews are `sendMessageDraft` (Bot API 9.x: animated, ephemeral) and
 *   the final `sendMessage` persists the reply. A server without the method makes the adapter
 *   fall back to edits, remembered for the process.
 * - Text over 4096 characters is split (shared chunker): the first chunk is edited into the
 *   streamed message, the rest go out as new messages. Streaming previews are `normal`
 *   priority and the final text `high`, so the final text always lands, even in a busy group.
 * - Markdown becomes Telegram HTML; if Telegram rejects the entities, the reply is resent as
 *   plain text (and stays plain for the rest of that reply).
 *
 * The pacing (first send, interval, priorities, abandon) is shared with Discord
 * (../shared/streamed-reply.ts); this file decides what Telegram shows at each step.
 */
import type { Log } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import type { OutboundBudget } from '../shared/budget.js';
import { chunkText } from '../shared/chunk.js';
import { parseMarkdown, renderHtml, renderPlain } from '../shared/markdown.js';
import { deliverEvents, nextChunkStep, shownBefore, StreamedReply, type ChunkStep, type ReplyPlanner, type Shown, type StreamTuning } from '../shared/streamed-reply.js';
import { TypingRenewer } from '../shared/typing.js';
import type { TelegramTarget } from './keys.js';
import type { TelegramReplyMarks } from './reply-marks.js';
import { telegramErrorKind, type SendOptions, type TelegramTransport } from './transport.js';

/** Where a reply goes: the conversation's chat (keys.ts), quoting the user's message in groups and topics. */
export interface ReplyTarget extends TelegramTarget {
  replyTo?: number | undefined;
  /**
   * The same for every attempt at this reply (the answered event's id, a proactive message's
   * `dedupeKey`): the messages it shows before its last are noted under it (reply-marks.ts).
   */
  replyKey?: string | undefined;
}

export interface OutboundTuning extends StreamTuning {
  typingIntervalMs: number;
  maxMessageLength: number;
}

/** Remembers, for the life of the process, where sendMessageDraft does not work. */
export class DraftSupport {
  private off = false;
  private readonly offChats = new Set<number>();
  usable(chatId: number): boolean {
    return !this.off && !this.offChats.has(chatId);
  }
  /** `everywhere` when the server lacks the method; otherwise only this chat refused drafts. */
  disable(chatId: number, everywhere: boolean): void {
    if (everywhere) this.off = true;
    else this.offChats.add(chatId);
  }
}

export interface OutboundDeps {
  transport: Pick<TelegramTransport, 'sendMessage' | 'editMessageText' | 'sendMessageDraft' | 'sendTyping'>;
  budget: OutboundBudget;
  drafts: DraftSupport;
  /** Where replies note the messages they will edit or follow with more, for an attempt after a crash. */
  marks: TelegramReplyMarks;
  log: Log;
  tuning: OutboundTuning;
}

/**
 * Show one engine answer in Telegram. Never throws: failures are logged, because there is
 * nobody to hand them to — the engine has already stored the reply.
 */
export async function deliverReply(events: AsyncIterable<ReplyEvent>, target: ReplyTarget, deps: OutboundDeps): Promise<void> {
  const typing = new TypingRenewer(deps.budget, String(target.chatId), () => deps.transport.sendTyping(target.chatId, target.threadId), deps.tuning.typingIntervalMs);
  await deliverEvents(events, {
    newReply: (first) => streamedReply(first ? target : { ...target, replyKey: undefined }, deps),
    start: () => typing.start(),
    notice: (e) => sendNotice(e.text, target, deps),
    typing,
    failed: (err, what) => deps.log.warn({ err, chatId: target.chatId, what }, 'telegram delivery failed'),
  });
}

/** A command answer, limit notice or error: plain text, quoting the user's message in groups. */
export async function sendNotice(text: string, target: ReplyTarget, deps: OutboundDeps): Promise<void> {
  const chunks = chunkText(text, deps.tuning.maxMessageLength);
  for (const [i, c] of chunks.entries()) {
    const o: SendOptions = { threadId: target.threadId, replyTo: i === 0 ? target.replyTo : undefined };
    await deps.budget.run(String(target.chatId), async (beforeCall) => (await beforeCall(), deps.transport.sendMessage(target.chatId, c, o)), { priority: 'high' });
  }
}

/**
 * Formatted text sent at once (proactive messages, recovered replies): the final step of a reply
 * with no preview. `maybeSent` (with `target.replyKey`): the messages an earlier attempt noted are
 * edited to their parts, and only the parts it did not show are sent.
 */
export async function sendText(text: string, target: ReplyTarget, deps: OutboundDeps, o: { beforeFirstCall?: (() => Promise<void>) | undefined; maybeSent?: boolean | undefined } = {}): Promise<void> {
  const earlier = o.maybeSent && target.replyKey !== undefined ? await deps.marks.earlier(target.replyKey) : undefined;
  await streamedReply(target, deps, o.beforeFirstCall, earlier).finish(text);
}

/** What of one reply Telegram shows at `target`, and the Bot API call that shows more. */
export function replyPlanner(target: ReplyTarget, deps: OutboundDeps): ReplyPlanner<Action> {
  return new TelegramMessages(target, deps);
}

function streamedReply(target: ReplyTarget, deps: OutboundDeps, beforeFirstCall?: () => Promise<void>, earlier?: ReadonlyMap<number, number>): StreamedReply<Action> {
  return new StreamedReply(new TelegramMessages(target, deps, earlier), deps, { key: String(target.chatId), platform: 'telegram', logContext: { chatId: target.chatId }, beforeFirstCall });
}

/** `closes`: the send of the reply's last part with its final text, after which nothing more is called. */
type Action = (ChunkStep & { closes?: boolean }) | { kind: 'draft'; index: number; source: string };

/**
 * What of one reply Telegram shows, and the Bot API call that shows more. Called only from the
 * reply's steps, which the budget runs one per chat at a time, so `shown` needs no locking.
 */
class TelegramMessages implements ReplyPlanner<Action> {
  private readonly shown: Shown<number>[];
  private draft: { index: number; source: string } | undefined;
  private readonly draftBase = 1 + Math.floor(Math.random() * 1_000_000_000);
  private plain = false;

  constructor(
    private readonly target: ReplyTarget,
    private readonly deps: OutboundDeps,
    earlier?: ReadonlyMap<number, number>,
  ) {
    this.shown = shownBefore(earlier);
  }

  get visible(): number {
    return this.shown.length;
  }

  /** The next Bot API call that brings Telegram closer to `text`; undefined when it shows it already. */
  plan(text: string, final: boolean): Action | undefined {
    const chunks = chunkText(text, this.deps.tuning.maxMessageLength);
    const useDraft = !final && this.target.isPrivate && this.deps.drafts.usable(this.target.chatId);
    const last = chunks.length - 1;
    // In a draft preview the growing tail is a draft, not a message.
    const step = nextChunkStep(chunks, this.shown, useDraft ? last : chunks.length);
    if (step) return final && step.kind === 'send' && step.index === last ? { ...step, closes: true } : step;
    const tail = chunks[last];
    if (!useDraft || tail === undefined || (this.draft?.index === last && this.draft.source === tail)) return undefined;
    return { kind: 'draft', index: last, source: tail };
  }

  async perform(a: Action): Promise<void> {
    if (a.kind === 'send') await this.send(a.index, a.source, a.closes);
    else if (a.kind === 'edit') await this.edit(this.shown[a.index]!, a.source);
    else await this.sendDraft(a.index, a.source);
  }

  private async send(i: number, source: string, closes = false): Promise<void> {
    const replyTo = i === 0 ? this.target.replyTo : undefined;
    const messageId = await this.formatted(source, (text, parseMode) =>
      this.deps.transport.sendMessage(this.target.chatId, text, { parseMode, threadId: this.target.threadId, replyTo }),
    );
    this.shown[i] = { messageId, source };
    if (!closes && this.target.replyKey !== undefined) await this.deps.marks.posted(this.target.replyKey, i, messageId);
  }

  private async edit(s: Shown<number>, source: string): Promise<void> {
    try {
      await this.formatted(source, (text, parseMode) => this.deps.transport.editMessageText(this.target.chatId, s.messageId, text, { parseMode }));
    } catch (err) {
      const kind = telegramErrorKind(err);
      if (kind === 'rate-limited') throw err;
      if (kind !== 'not-modified') {
        // Deleted, or too old to edit: the text must still land, so send it anew.
        this.deps.log.info({ chatId: this.target.chatId, err }, 'telegram edit refused; sending the text as a new message');
        return this.send(this.shown.indexOf(s), source);
      }
    }
    s.source = source;
  }

  private async sendDraft(index: number, source: string): Promise<void> {
    try {
      await this.formatted(source, (text, parseMode) =>
        this.deps.transport.sendMessageDraft(this.target.chatId, this.draftBase + index, text, { parseMode, threadId: this.target.threadId }),
      );
      this.draft = { index, source };
    } catch (err) {
      const kind = telegramErrorKind(err);
      if (kind === 'rate-limited') throw err;
      this.deps.drafts.disable(this.target.chatId, kind === 'method-missing');
      this.deps.log.info({ chatId: this.target.chatId, kind, err }, 'telegram refused sendMessageDraft; streaming by edits instead');
    }
  }

  /** Telegram HTML, or plain text once Telegram has rejected this reply's entities. */
  private async formatted<T>(source: string, call: (text: string, parseMode: 'HTML' | undefined) => Promise<T>): Promise<T> {
    const nodes = parseMarkdown(source);
    const plain = () => {
      const p = renderPlain(nodes);
      return p.trim() ? p : source;
    };
    if (this.plain) return call(plain(), undefined);
    try {
      return await call(renderHtml(nodes), 'HTML');
    } catch (err) {
      if (telegramErrorKind(err) !== 'parse') throw err;
      this.deps.log.info({ chatId: this.target.chatId, err }, 'telegram rejected the formatting; sending plain text');
      this.plain = true;
      return call(plain(), undefined);
    }
  }
}
