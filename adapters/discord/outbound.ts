/**
 * ReplyStream → Discord. One answer is shown as it is written, within Discord's limits:
 *
 * - "typing…" from the turn's start until the first text appears (Discord shows it ~10 s, so it
 *   is renewed every ~8 s), only when the channel's budget is idle: it never delays a message.
 * - The first text goes out one interval after the first delta, so a reply finished by then is a
 *   single message with no edits. After that, at most one call (post or edit) per interval per
 *   reply, each showing everything written so far; steps that would change nothing are skipped.
 * - Over 2,000 characters the text is split by the shared chunker (sentence and code-block
 *   boundaries; a long code block is closed and reopened): finished chunks are edited to their
 *   final form and the next one starts as a new message. Previews are `normal` priority, the final
 *   text `high`, so the final text always lands, even in a busy channel.
 * - Text goes out as Markdown, which Discord renders natively; nothing is converted.
 *
 * Where the text goes is a `Surface`: a channel (as the bot, or as the character through a
 * webhook) or a slash command's response (interactions.ts). The streaming logic is the same.
 */
import type { Log } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import { OutboundBudget, SKIPPED, type Skipped } from '../shared/budget.js';
import { chunkText } from '../shared/chunk.js';
import { discordErrorKind, type DcWebhook, type DiscordTransport } from './transport.js';
import type { CharacterWebhooks } from './webhooks.js';

export interface OutboundTuning {
  /** Least time between two calls (posts or edits) of one streamed reply. */
  editIntervalMs: number;
  /** Wait after the first delta before showing anything, so short replies are a single message. */
  firstSendDelayMs: number;
  typingIntervalMs: number;
  maxMessageLength: number;
}

export interface OutboundDeps {
  budget: OutboundBudget;
  log: Log;
  tuning: OutboundTuning;
}

/** Where the messages of one answer go. Implementations do one API call per method call. */
export interface Surface {
  /** The budget queue these calls share (a channel id, or an interaction). */
  readonly key: string;
  /** Post message `index` of the answer; returns its id. */
  post(index: number, text: string): Promise<string>;
  edit(index: number, messageId: string, text: string): Promise<void>;
  /** Show "typing…" (channels only). */
  typing?(): Promise<void>;
  /** The character speaking, known from the turn's `start` event (webhook names). */
  speaker?(name: string): void;
}

/** Where in a channel an answer goes. */
export interface ChannelTarget {
  /** The channel or thread to post in. */
  channelId: string;
  /** For a thread, its parent channel (webhooks belong to the parent). */
  parentId?: string | null | undefined;
  /** The user's message, quoted by the first message of the answer (guild channels). */
  replyTo?: string | undefined;
  /** DMs cannot have webhooks: the bot always speaks there. */
  dm: boolean;
  characterName?: string | undefined;
}

export interface ChannelSurfaceDeps {
  transport: Pick<DiscordTransport, 'send' | 'edit' | 'typing' | 'webhookSend' | 'webhookEdit'>;
  /** Set when DISCORD_CHARACTER_WEBHOOKS is on. */
  webhooks?: CharacterWebhooks | undefined;
  /** The character's avatar URL, for webhook posts. */
  avatarOf?: ((name: string) => Promise<string | undefined>) | undefined;
  log: Log;
}

/** A channel, spoken into as the bot or, with webhooks on, as the character. */
export class ChannelSurface implements Surface {
  readonly key: string;
  private name: string | undefined;
  /** Messages posted through a webhook, by id: their edits must go through the same webhook. */
  private readonly viaHook = new Map<string, DcWebhook>();

  constructor(
    private readonly target: ChannelTarget,
    private readonly deps: ChannelSurfaceDeps,
  ) {
    this.key = target.channelId;
    this.name = target.characterName;
  }

  speaker(name: string): void {
    this.name = name;
  }

  async post(index: number, text: string): Promise<string> {
    const { target, deps } = this;
    const thread = target.parentId ? target.channelId : undefined;
    if (deps.webhooks && !target.dm && this.name) {
      const hook = await deps.webhooks.forChannel(target.parentId ?? target.channelId, this.name);
      if (hook) {
        const avatarUrl = await deps.avatarOf?.(this.name).catch(() => undefined);
        const id = await deps.transport.webhookSend(hook, text, { username: deps.webhooks.displayName(this.name), avatarUrl, threadId: thread });
        this.viaHook.set(id, hook);
        return id;
      }
    }
    return deps.transport.send(target.channelId, text, index === 0 ? target.replyTo : undefined);
  }

  async edit(_index: number, messageId: string, text: string): Promise<void> {
    const hook = this.viaHook.get(messageId);
    if (hook) await this.deps.transport.webhookEdit(hook, messageId, text, this.target.parentId ? this.target.channelId : undefined);
    else await this.deps.transport.edit(this.target.channelId, messageId, text);
  }

  typing(): Promise<void> {
    return this.deps.transport.typing(this.target.channelId);
  }
}

/**
 * Show one engine answer in a channel. Never throws: failures are logged, because there is
 * nobody to hand them to — the engine has already stored the reply.
 */
export async function deliverReply(events: AsyncIterable<ReplyEvent>, surface: Surface, deps: OutboundDeps): Promise<void> {
  const typing = new Typing(surface, deps);
  let reply: StreamedReply | undefined;
  const safely = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      deps.log.warn({ err, key: surface.key, what }, 'discord delivery failed');
    }
  };
  const open = () => (reply ??= new StreamedReply(surface, deps, () => typing.stop()));
  try {
    for await (const e of events) {
      if (e.type === 'start') {
        surface.speaker?.(e.characterName);
        typing.start();
      } else if (e.type === 'delta') open().append(e.text);
      else if (e.type === 'done') {
        typing.stop();
        const r = open();
        reply = undefined;
        await safely('reply', () => r.finish(e.message.content));
      } else {
        typing.stop();
        const r = reply;
        reply = undefined;
        if (r) await safely('partial reply', () => r.abandon());
        await safely('notice', () => sendText(e.text, surface, deps));
      }
    }
    const r = reply;
    if (r) await safely('partial reply', () => r.abandon());
  } finally {
    typing.stop();
  }
}

/** Text sent at once, split if long (notices, proactive messages): a reply with no preview. */
export async function sendText(text: string, surface: Surface, deps: OutboundDeps): Promise<void> {
  await new StreamedReply(surface, deps).finish(text);
}

/** Sends "typing…" now and every interval, through the budget's idle-only path. */
class Typing {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly surface: Surface,
    private readonly deps: OutboundDeps,
  ) {}
  start(): void {
    const typing = this.surface.typing?.bind(this.surface);
    if (this.timer || !typing) return;
    const ping = () => this.deps.budget.tryNow(this.surface.key, typing);
    ping();
    this.timer = setInterval(ping, this.deps.tuning.typingIntervalMs);
  }
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

interface Shown {
  messageId: string;
  source: string;
}

/**
 * One answer's text and what of it Discord shows. Every change goes through `step`, run by the
 * budget (one task per queue at a time), so `shown` needs no locking.
 */
export class StreamedReply {
  private text = '';
  private final = false;
  private readonly shown: Shown[] = [];
  private loop: Promise<void> | undefined;
  private pending: AbortController | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly surface: Surface,
    private readonly deps: OutboundDeps,
    private readonly onFirstPost?: () => void,
  ) {}

  /** How many messages are visible so far. */
  get visible(): number {
    return this.shown.length;
  }

  append(delta: string): void {
    this.text += delta;
    this.loop ??= this.stream();
  }

  /** Land `finalText` completely (the preview loop stops; the remaining steps run at high priority). */
  async finish(finalText: string): Promise<void> {
    this.text = finalText;
    this.stopPreviews();
    for (let guard = 0; guard < 1000; guard++) {
      const r = await this.deps.budget.run(this.surface.key, () => this.step(true), { priority: 'high' });
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
      this.pending = new AbortController();
      try {
        await this.deps.budget.run(this.surface.key, () => this.step(false), { priority: 'normal', signal: this.pending.signal });
      } catch (err) {
        this.deps.log.warn({ err, key: this.surface.key }, 'discord preview failed; waiting for the final text');
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

  /** One API call that brings Discord closer to `text`, or SKIPPED when it already shows it. */
  private async step(final: boolean): Promise<true | Skipped> {
    if (!final && this.final) return SKIPPED;
    const chunks = chunkText(this.text, this.deps.tuning.maxMessageLength);
    for (const [i, c] of chunks.entries()) {
      const s = this.shown[i];
      if (!s) return this.post(i, c);
      if (s.source !== c) return this.edit(i, s, c);
    }
    return SKIPPED;
  }

  private async post(i: number, source: string): Promise<true> {
    const messageId = await this.surface.post(i, source);
    this.shown[i] = { messageId, source };
    if (i === 0) this.onFirstPost?.();
    return true;
  }

  private async edit(i: number, s: Shown, source: string): Promise<true> {
    try {
      await this.surface.edit(i, s.messageId, source);
    } catch (err) {
      const kind = discordErrorKind(err);
      if (kind !== 'unknown-message') throw err;
      // Someone deleted the message we were streaming into: the text must still land.
      this.deps.log.info({ key: this.surface.key, err }, 'discord message to edit is gone; posting the text anew');
      return this.post(i, source);
    }
    s.source = source;
    return true;
  }
}
