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
 * webhook) or a slash command's response (interactions.ts). The streaming logic is the same,
 * and its pacing is shared with Telegram (../shared/streamed-reply.ts).
 */
import { createHash } from 'node:crypto';
import type { Log } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import type { OutboundBudget, RateWindow } from '../shared/budget.js';
import { chunkText } from '../shared/chunk.js';
import { deliverEvents, nextChunkStep, shownBefore, StreamedReply, type ChunkStep, type ReplyPlanner, type Shown, type StreamTuning } from '../shared/streamed-reply.js';
import type { PartNotes } from '../shared/reply-notes.js';
import { TypingRenewer } from '../shared/typing.js';
import { discordErrorKind, type DcWebhook, type DiscordTransport } from './transport.js';
import type { DiscordTarget } from './keys.js';
import type { CharacterWebhooks } from './webhooks.js';

export interface OutboundTuning extends StreamTuning {
  typingIntervalMs: number;
  typingWindow: RateWindow;
  maxMessageLength: number;
}

/** `closes`: the post of the answer's last part with its final text, after which nothing more is called. */
type Step = ChunkStep & { closes?: boolean };

export interface OutboundDeps {
  budget: OutboundBudget;
  log: Log;
  tuning: OutboundTuning;
}

/**
 * Where the messages of one answer go. Implementations do one API call per method call, except
 * a post that finds an earlier attempt's message (see `ChannelTarget.dedupeKey`), which then
 * edits it to the text.
 */
export interface Surface {
  /** The budget queue these calls share (a channel id, or an interaction). */
  readonly key: string;
  /**
   * Post message `index` of the answer; returns its id. `note`: more calls are to follow (a
   * preview, a long reply's part before its last), so a post the platform cannot be asked about
   * after a crash is noted for the next attempt (`ChannelTarget.dedupeKey`).
   */
  post(index: number, text: string, o?: { note?: boolean }): Promise<string>;
  edit(index: number, messageId: string, text: string): Promise<void>;
  /** Show "typing…" (channels only). */
  typing?(): Promise<void>;
  /** The character speaking, known from the turn's `start` event (webhook names). */
  speaker?(name: string): void;
}

/** Where in a channel an answer goes: the conversation's channel or thread (keys.ts), and how to speak there. */
export interface ChannelTarget extends DiscordTarget {
  /** The user's message, quoted by the first message of the answer (guild channels). */
  replyTo?: string | undefined;
  /**
   * DMs cannot have webhooks: the bot always speaks there. Undefined when only the key is known
   * (proactive messages); Discord is asked only if a webhook would be used.
   */
  dm?: boolean | undefined;
  characterName?: string | undefined;
  /**
   * Set when what is said here answers one event or stands for one stored message
   * (`OutboundText.dedupeKey`): the bot's posts then carry nonces made from it, so a reply sent
   * again after a crash, or a post retried after a lost response, shows up once.
   */
  dedupeKey?: string | undefined;
}

export interface ChannelSurfaceDeps {
  transport: Pick<DiscordTransport, 'send' | 'edit' | 'typing' | 'webhookSend' | 'webhookEdit' | 'isDm'>;
  /** Set when DISCORD_CHARACTER_WEBHOOKS is on. */
  webhooks?: CharacterWebhooks | undefined;
  /** The character's avatar URL, for webhook posts. */
  avatarOf?: ((name: string) => Promise<string | undefined>) | undefined;
  /**
   * Where a webhook's posts are noted (they take no nonce, so Discord cannot return one an
   * earlier attempt made): each the reply will still edit or follow, by part, under its key.
   */
  marks?: PartNotes<string> | undefined;
  log: Log;
}

/** A channel, spoken into as the bot or, with webhooks on, as the character. */
export class ChannelSurface implements Surface {
  readonly key: string;
  private name: string | undefined;
  /** Messages posted through a webhook, by id: their edits must go through the same webhook. */
  private readonly viaHook = new Map<string, DcWebhook>();
  /** Messages the bot has posted here: the next one's nonce (a failed post keeps its nonce for the retry). */
  private posted = 0;

  private readonly target: ChannelTarget;

  constructor(
    target: ChannelTarget,
    private readonly deps: ChannelSurfaceDeps,
  ) {
    this.target = { ...target };
    this.key = target.channelId;
    this.name = target.characterName;
  }

  speaker(name: string): void {
    this.name = name;
  }

  async post(index: number, text: string, o: { note?: boolean } = {}): Promise<string> {
    const { target, deps } = this;
    const thread = target.parentId ? target.channelId : undefined;
    if (deps.webhooks && this.name && !(await this.isDm())) {
      const hook = await deps.webhooks.forChannel(target.parentId ?? target.channelId, this.name);
      if (hook) {
        const avatarUrl = await deps.avatarOf?.(this.name).catch(() => undefined);
        const id = await deps.transport.webhookSend(hook, text, { username: deps.webhooks.displayName(this.name), avatarUrl, threadId: thread });
        this.viaHook.set(id, hook);
        if (o.note && target.dedupeKey !== undefined) await deps.marks?.posted(target.dedupeKey, index, id);
        return id;
      }
    }
    const nonce = target.dedupeKey === undefined ? undefined : messageNonce(target.dedupeKey, this.posted);
    const m = await deps.transport.send(target.channelId, text, { replyTo: index === 0 ? target.replyTo : undefined, nonce });
    this.posted++;
    // Only a nonce can return an earlier attempt's message (a preview cut short by a crash, say);
    // Discord trims what it stores, so only a real difference brings it up to the text.
    if (nonce !== undefined && m.content.trim() !== text.trim()) await deps.transport.edit(target.channelId, m.id, text);
    return m.id;
  }

  /**
   * Messages an earlier attempt at this answer posted through the character's webhook (noted by
   * `post`), to be edited through it: the ones it can still reach, by part.
   */
  async adopt(earlier: ReadonlyMap<number, string>): Promise<ReadonlyMap<number, string>> {
    const { target, deps } = this;
    if (!earlier.size || !deps.webhooks || !this.name || (await this.isDm())) return new Map();
    const hook = await deps.webhooks.forChannel(target.parentId ?? target.channelId, this.name);
    if (!hook) return new Map();
    for (const id of earlier.values()) this.viaHook.set(id, hook);
    return earlier;
  }

  async edit(_index: number, messageId: string, text: string): Promise<void> {
    const hook = this.viaHook.get(messageId);
    if (hook) await this.deps.transport.webhookEdit(hook, messageId, text, this.target.parentId ? this.target.channelId : undefined);
    else await this.deps.transport.edit(this.target.channelId, messageId, text);
  }

  typing(): Promise<void> {
    return this.deps.transport.typing(this.target.channelId);
  }

  /** Threads live in guilds; a channel we cannot look up gets the bot's own voice. */
  private async isDm(): Promise<boolean> {
    if (this.target.dm === undefined) {
      this.target.dm = this.target.parentId ? false : await this.deps.transport.isDm(this.target.channelId).catch(() => true);
    }
    return this.target.dm;
  }
}

/**
 * The nonce of the `n`th message the bot posts for `dedupeKey`: at most 25 characters, as
 * Discord allows. Webhook posts take no nonce, so a character speaking through a webhook can
 * still be shown twice after a crash.
 */
export function messageNonce(dedupeKey: string, n: number): string {
  return createHash('sha256').update(dedupeKey).digest('base64url').slice(0, 20) + n.toString(36);
}

/**
 * Show one engine answer in a channel. Never throws: failures are logged, because there is
 * nobody to hand them to — the engine has already stored the reply.
 */
export async function deliverReply(events: AsyncIterable<ReplyEvent>, surface: Surface, deps: OutboundDeps): Promise<void> {
  const typing = new TypingRenewer(deps.budget, surface.key, surface.typing?.bind(surface), deps.tuning.typingIntervalMs, { windows: [deps.tuning.typingWindow], shared: true });
  await deliverEvents(events, {
    newReply: (first) => streamedReply(surface, deps, () => typing.stop(), undefined, { note: first }),
    start: (e) => {
      surface.speaker?.(e.characterName);
      typing.start();
    },
    notice: (e) => sendText(e.text, surface, deps),
    typing,
    failed: (err, what) => deps.log.warn({ err, key: surface.key, what }, 'discord delivery failed'),
  });
}

/**
 * Text sent at once, split if long (notices, proactive messages, recovered replies): a reply with
 * no preview. `earlier`: messages an earlier attempt showed, by part (`ChannelSurface.adopt`),
 * edited to their parts rather than posted again.
 */
export async function sendText(text: string, surface: Surface, deps: OutboundDeps, beforeFirstCall?: () => Promise<void>, earlier?: ReadonlyMap<number, string>): Promise<void> {
  await streamedReply(surface, deps, undefined, beforeFirstCall, { note: earlier !== undefined, earlier }).finish(text);
}

/** What of one answer Discord shows on `surface`, and the call that shows more; `onFirstPost` runs once its first message is posted. */
export function replyPlanner(surface: Surface, deps: OutboundDeps, onFirstPost?: () => void): ReplyPlanner<Step> {
  return new DiscordMessages(surface, deps, onFirstPost);
}

/**
 * One answer streamed into `surface`; `onFirstPost` runs once its first message is posted,
 * `beforeFirstCall` right before its first call. `note`: its posts that more calls follow are
 * noted (`Surface.post`); `earlier`: messages already showing its parts.
 */
export function streamedReply(
  surface: Surface,
  deps: OutboundDeps,
  onFirstPost?: () => void,
  beforeFirstCall?: () => Promise<void>,
  o: { note?: boolean; earlier?: ReadonlyMap<number, string> | undefined } = {},
): StreamedReply<Step> {
  return new StreamedReply(new DiscordMessages(surface, deps, onFirstPost, o), deps, {
    key: surface.key,
    platform: 'discord',
    logContext: { key: surface.key },
    beforeFirstCall,
  });
}

/**
 * What of one answer Discord shows, and the call that shows more. Called only from the reply's
 * steps, which the budget runs one per queue at a time, so `shown` needs no locking.
 */
class DiscordMessages implements ReplyPlanner<Step> {
  private readonly shown: Shown<string>[];

  constructor(
    private readonly surface: Surface,
    private readonly deps: OutboundDeps,
    private readonly onFirstPost?: () => void,
    private readonly o: { note?: boolean; earlier?: ReadonlyMap<number, string> | undefined } = {},
  ) {
    this.shown = shownBefore(o.earlier);
  }

  get visible(): number {
    return this.shown.length;
  }

  plan(text: string, final: boolean): Step | undefined {
    const chunks = chunkText(text, this.deps.tuning.maxMessageLength);
    const step = nextChunkStep(chunks, this.shown);
    return step && final && step.kind === 'send' && step.index === chunks.length - 1 ? { ...step, closes: true } : step;
  }

  async perform(a: Step): Promise<void> {
    if (a.kind === 'send') await this.post(a.index, a.source, a.closes);
    else await this.edit(a.index, this.shown[a.index]!, a.source);
  }

  private async post(i: number, source: string, closes = false): Promise<void> {
    const messageId = await this.surface.post(i, source, { note: this.o.note === true && !closes });
    this.shown[i] = { messageId, source };
    if (i === 0) this.onFirstPost?.();
  }

  private async edit(i: number, s: Shown<string>, source: string): Promise<void> {
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
  }
}
