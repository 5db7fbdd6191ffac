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
 */
import type { Log } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import { OutboundBudget, SKIPPED, type Skipped } from '../shared/budget.js';
import { chunkText } from '../shared/chunk.js';
import { parseMarkdown, renderHtml, renderPlain } from '../shared/markdown.js';
import { telegramErrorKind, type SendOptions, type TelegramTransport } from './transport.js';

/** Where a reply goes. */
export interface ReplyTarget {
  chatId: number;
  threadId?: number | undefined;
  /** The user's message, quoted by the first message of the answer (groups and topics). */
  replyTo?: number | undefined;
  /** A private chat, where drafts can stream the preview. */
  isPrivate: boolean;
}

export interface OutboundTuning {
  /** Least time between two previews (edits or drafts) of one reply. */
  editIntervalMs: number;
  /** Wait after the first delta before showing anything, so short replies are a single message. */
  firstSendDelayMs: number;
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
  log: Log;
  tuning: OutboundTuning;
}

/**
 * Show one engine answer in Telegram. Never throws: failures are logged, because there is
 * nobody to hand them to — the engine has already stored the reply.
 */
export async function deliverReply(events: AsyncIterable<ReplyEvent>, target: ReplyTarget, deps: OutboundDeps): Promise<void> {
  const typing = new Typing(target, deps);
  let reply: StreamedReply | undefined;
  const safely = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      deps.log.warn({ err, chatId: target.chatId, what }, 'telegram delivery failed');
    }
  };
  try {
    for await (const e of events) {
      if (e.type === 'start') typing.start();
      else if (e.type === 'delta') (reply ??= new StreamedReply(target, deps)).append(e.text);
      else if (e.type === 'done') {
        typing.stop();
        const r = reply ?? new StreamedReply(target, deps);
        reply = undefined;
        await safely('reply', () => r.finish(e.message.content));
      } else {
        typing.stop();
        const r = reply;
        reply = undefined;
        if (r) await safely('partial reply', () => r.abandon());
        await safely('notice', () => sendNotice(e.text, target, deps));
      }
    }
    const r = reply;
    if (r) await safely('partial reply', () => r.abandon());
  } finally {
    typing.stop();
  }
}

/** A command answer, limit notice or error: plain text, quoting the user's message in groups. */
export async function sendNotice(text: string, target: ReplyTarget, deps: OutboundDeps): Promise<void> {
  const chunks = chunkText(text, deps.tuning.maxMessageLength);
  for (const [i, c] of chunks.entries()) {
    const o: SendOptions = { threadId: target.threadId, replyTo: i === 0 ? target.replyTo : undefined };
    await deps.budget.run(String(target.chatId), () => deps.transport.sendMessage(target.chatId, c, o), { priority: 'high' });
  }
}

/** Formatted text sent at once (proactive messages): the final step of a reply with no preview. */
export async function sendText(text: string, target: ReplyTarget, deps: OutboundDeps): Promise<void> {
  await new StreamedReply({ ...target, isPrivate: false }, deps).finish(text);
}

/** Sends `typing` now and every interval while the turn runs, through the budget's idle-only path. */
class Typing {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly target: ReplyTarget,
    private readonly deps: OutboundDeps,
  ) {}
  start(): void {
    if (this.timer) return;
    const ping = () => this.deps.budget.tryNow(String(this.target.chatId), () => this.deps.transport.sendTyping(this.target.chatId, this.target.threadId));
    ping();
    this.timer = setInterval(ping, this.deps.tuning.typingIntervalMs);
  }
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

interface Shown {
  messageId: number;
  source: string;
}

type Action = { kind: 'send' | 'edit' | 'draft'; index: number; source: string };

/**
 * One reply's text and what of it Telegram shows. Every change goes through `step`, run by the
 * budget (one task per chat at a time), so `shown` needs no locking.
 */
class StreamedReply {
  private text = '';
  private final = false;
  private readonly shown: Shown[] = [];
  private draft: { index: number; source: string } | undefined;
  private readonly draftBase = 1 + Math.floor(Math.random() * 1_000_000_000);
  private plain = false;
  private loop: Promise<void> | undefined;
  private pending: AbortController | undefined;
  private wake: (() => void) | undefined;
  private readonly chatKey: string;

  constructor(
    private readonly target: ReplyTarget,
    private readonly deps: OutboundDeps,
  ) {
    this.chatKey = String(target.chatId);
  }

  append(delta: string): void {
    this.text += delta;
    this.loop ??= this.stream();
  }

  /** Land `finalText` completely (the preview loop stops; the remaining steps run at high priority). */
  async finish(finalText: string): Promise<void> {
    this.text = finalText;
    this.stopPreviews();
    // plan() is checked before queueing, so a reply that is already fully shown waits for nothing.
    for (let guard = 0; guard < 1000 && this.plan(true); guard++) {
      const r = await this.deps.budget.run(this.chatKey, () => this.step(true), { priority: 'high' });
      if (r === SKIPPED) break;
    }
    await this.loop;
  }

  /** The turn failed: finish what is already visible, or show nothing if nothing is. */
  async abandon(): Promise<void> {
    if (this.shown.length > 0) return this.finish(this.text);
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
      if (!this.plan(false)) {
        await this.pause(this.deps.tuning.editIntervalMs); // nothing new yet: queue nothing
        continue;
      }
      this.pending = new AbortController();
      try {
        await this.deps.budget.run(this.chatKey, () => this.step(false), { priority: 'normal', signal: this.pending.signal });
      } catch (err) {
        this.deps.log.warn({ err, chatId: this.target.chatId }, 'telegram preview failed; waiting for the final text');
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

  /** The next Bot API call that brings Telegram closer to `text`; undefined when it shows it already. */
  private plan(final: boolean): Action | undefined {
    if (!final && this.final) return undefined;
    const chunks = chunkText(this.text, this.deps.tuning.maxMessageLength);
    const useDraft = !final && this.target.isPrivate && this.deps.drafts.usable(this.target.chatId);
    const last = chunks.length - 1;
    for (const [i, c] of chunks.entries()) {
      if (useDraft && i === last) break; // the growing tail is a draft, not a message
      const s = this.shown[i];
      if (!s) return { kind: 'send', index: i, source: c };
      if (s.source !== c) return { kind: 'edit', index: i, source: c };
    }
    const tail = chunks[last];
    if (!useDraft || tail === undefined || (this.draft?.index === last && this.draft.source === tail)) return undefined;
    return { kind: 'draft', index: last, source: tail };
  }

  /** Runs inside the budget: one call, or SKIPPED (no slot used) when nothing needs showing. */
  private async step(final: boolean): Promise<true | Skipped> {
    const a = this.plan(final);
    if (!a) return SKIPPED;
    if (a.kind === 'send') return this.send(a.index, a.source);
    if (a.kind === 'edit') return this.edit(this.shown[a.index]!, a.source);
    return this.sendDraft(a.index, a.source);
  }

  private async send(i: number, source: string): Promise<true> {
    const replyTo = i === 0 ? this.target.replyTo : undefined;
    const messageId = await this.formatted(source, (text, parseMode) =>
      this.deps.transport.sendMessage(this.target.chatId, text, { parseMode, threadId: this.target.threadId, replyTo }),
    );
    this.shown[i] = { messageId, source };
    return true;
  }

  private async edit(s: Shown, source: string): Promise<true> {
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
    return true;
  }

  private async sendDraft(index: number, source: string): Promise<true> {
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
    return true;
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
