/**
 * The Telegram adapter: wires transport (telegraf) → inbound (update → InboundMessage) → the
 * engine → outbound (ReplyStream → sends, edits, drafts), with one outbound budget per bot.
 * Discord and Slack adapters follow the same shape: `createXAdapter(config, deps)` returning a
 * PlatformAdapter, the SDK confined to transport.ts, limits expressed as budget windows.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { AdapterDeps, AdapterStatus, Leadership, Log, OutboundText, PlatformAdapter, RawHttpRoute, ReplyPlanner } from '../../src/core/adapter.js';
import type { InboundMessage } from '../../src/core/types.js';
import { TaskTracker } from '../../src/core/tasks.js';
import { OutboundBudget, type RateWindow } from '../shared/budget.js';
import { chatOf } from '../shared/conversation.js';
import { OrderedByKey } from '../shared/ordered.js';
import { rememberedChannels, sharedChannels } from '../shared/shared-window.js';
import { StatusTracker } from '../shared/status.js';
import { telegramCommands } from './commands.js';
import { toInbound, type BotIdentity } from './inbound.js';
import { isPrivateChat, telegramKeys, type TelegramTarget } from './keys.js';
import { DraftSupport, deliverReply, replyPlanner, sendText, type OutboundDeps, type ReplyTarget } from './outbound.js';
import { telegramReplyMarks } from './reply-marks.js';
import { retryAfterMs, TelegramTransport, type TgUpdate, type WebhookHold } from './transport.js';
import { telegramConfigSchema, type TelegramConfig } from './config.js';
import { isWellFormedMessage } from './update-shape.js';

/** `config.telegram`: the telegram module's own schema (./config.ts). */
export type { TelegramConfig } from './config.js';

/** Timings and limits. Defaults are Telegram's; tests scale them down. */
export interface TelegramTuning {
  editIntervalMs: number;
  firstSendDelayMs: number;
  typingIntervalMs: number;
  /** How long a getChatMember answer is trusted. */
  adminCacheMs: number;
  maxMessageLength: number;
  /** Every chat: about one message per second. */
  chatWindow: RateWindow;
  /** Groups and supergroups in addition: 20 per minute, with a reserve so final texts always fit. */
  groupWindow: RateWindow;
  /** The whole bot: about 30 per second. */
  globalWindow: RateWindow;
  /** Tries per send while Telegram keeps answering 429. */
  maxAttempts: number;
  /** How long stop() waits for replies in flight to land. */
  stopTimeoutMs: number;
}

export const TELEGRAM_TUNING: TelegramTuning = {
  editIntervalMs: 1000,
  firstSendDelayMs: 1000,
  typingIntervalMs: 4000,
  adminCacheMs: 60_000,
  maxMessageLength: 4096,
  chatWindow: { max: 1, windowMs: 1000 },
  groupWindow: { max: 20, windowMs: 60_000, reserve: 4 },
  globalWindow: { max: 30, windowMs: 1000, reserve: 5 },
  maxAttempts: 6,
  stopTimeoutMs: 10_000,
};

export interface TelegramAdapterDeps extends AdapterDeps {
  tuning?: Partial<TelegramTuning>;
}

export interface TelegramAdapter extends PlatformAdapter<TelegramTarget> {
  /** Known after start(). */
  readonly bot: BotIdentity | undefined;
}

/**
 * @example
 * const telegram = createTelegramAdapter(config.telegram, { handler: engine, log, commands: commandMenu(engine.commands) });
 * await telegram.start(); // long polling, or webhook when config.webhookUrl is set
 */
export function createTelegramAdapter(config: TelegramConfig, deps: TelegramAdapterDeps): TelegramAdapter {
  return new TelegramBot(config, deps);
}

class TelegramBot implements TelegramAdapter {
  readonly platform = 'telegram' as const;
  readonly keys = telegramKeys;
  bot: BotIdentity | undefined;
  private readonly tuning: TelegramTuning;
  /** The cluster-wide right to poll, when instances share this bot. */
  private polling: Leadership | undefined;
  private readonly log: Log;
  private readonly transport: TelegramTransport;
  private readonly budget: OutboundBudget;
  private readonly out: OutboundDeps;
  private readonly ordered = new OrderedByKey();
  private readonly tasks = new TaskTracker();
  private readonly state: StatusTracker;
  /** getChatMember answers by `chatId:userId`; errors are not cached, so the next command asks again. */
  private readonly admins: LRUCache<string, boolean>;
  private accepting = false;

  constructor(
    private readonly config: TelegramConfig,
    private readonly deps: TelegramAdapterDeps,
  ) {
    // The schema holds the rules (a webhook needs its secret), for programmatic callers too.
    telegramConfigSchema.parse(config);
    this.tuning = { ...TELEGRAM_TUNING, ...deps.tuning };
    this.log = deps.log.child?.({ platform: 'telegram' }) ?? deps.log;
    const now = deps.now ?? Date.now;
    this.state = new StatusTracker('telegram', config.webhookUrl ? 'webhook' : 'polling', now);
    this.admins = new LRUCache<string, boolean>({
      max: 10_000,
      ttl: this.tuning.adminCacheMs,
      ttlResolution: 0,
      perf: { now },
      fetchMethod: async (key) => {
        const [chatId, userId] = key.split(':').map(Number) as [number, number];
        const status = await this.transport.chatMemberStatus(chatId, userId);
        return status === 'creator' || status === 'administrator';
      },
    });
    this.transport = new TelegramTransport(
      { token: config.token, apiRoot: config.apiRoot, log: this.log, events: this.state, network: deps.network },
      (u, webhook) => this.onUpdate(u, webhook),
    );
    const { chatWindow, groupWindow, globalWindow } = this.tuning;
    const bot = `telegram:${config.token.split(':')[0]}`;
    this.budget = new OutboundBudget({
      // Groups, supergroups and channels also get the per-minute window.
      windowsFor: (chatKey) => (isPrivateChat(Number(chatKey)) ? [chatWindow] : [chatWindow, groupWindow]),
      // Per bot: with several instances the window is counted where they all see it.
      ...(deps.sharedWindow ? { shared: deps.sharedWindow(bot, [globalWindow]) } : { global: [globalWindow] }),
      // A chat's consecutive turns may be answered by different instances: its windows are counted
      // together too. A single instance keeps a group's minute past a restart instead.
      ...(deps.sharedWindow ? { sharedChats: sharedChannels(deps.sharedWindow, bot) } : deps.chatTally ? { rememberedChats: rememberedChannels(deps.chatTally, bot) } : {}),
      retryAfterMs,
      maxAttempts: this.tuning.maxAttempts,
      now,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      onRateLimited: (chatId, ms) => this.log.info({ chatId, retryAfterMs: ms }, 'telegram flood limit: waiting it out'),
    });
    this.out = { transport: this.transport, budget: this.budget, drafts: new DraftSupport(), marks: telegramReplyMarks(deps.sendMarks, this.log), log: this.log, tuning: this.tuning };
  }

  async start(): Promise<void> {
    this.bot = await this.transport.me();
    this.accepting = true;
    await this.transport
      .setCommands(telegramCommands(this.deps.commands))
      .catch((err: unknown) => this.log.warn({ err }, 'setMyCommands failed; commands still work, the menu may be stale'));
    if (this.config.webhookUrl && this.config.webhookSecret) {
      await this.transport.startWebhook(this.config.webhookUrl, this.config.webhookSecret);
      this.log.info({ path: new URL(this.config.webhookUrl).pathname, bot: this.bot.username }, 'telegram webhook set');
    } else if (this.deps.leadership) {
      // Telegram lets one client poll a token at a time (a second gets 409): with several
      // instances, the one holding the lock polls and another takes over when it dies.
      this.polling = this.deps.leadership(`telegram-polling:${this.bot.id}`);
      this.polling.run(async (lost) => {
        if (!this.accepting) return;
        await this.transport.startPolling();
        this.log.info({ bot: this.bot?.username }, 'telegram long polling started (this instance leads)');
        lost.addEventListener('abort', () => void this.transport.stop().then(() => this.accepting && this.state.connected()), { once: true });
      });
      // A standby instance is healthy: it answers webhooks of other platforms, sends replies and
      // proactive messages, and polls as soon as it leads.
      this.state.connected();
    } else {
      await this.transport.startPolling();
      this.log.info({ bot: this.bot.username }, 'telegram long polling started');
    }
  }

  async stop(): Promise<void> {
    this.accepting = false;
    // Stop polling before letting go of the lock: the next leader's first getUpdates must not
    // meet ours still parked (Telegram would end one of them with a 409).
    await this.transport.stop();
    await this.polling?.stop();
    await this.tasks.drain(this.tuning.stopTimeoutMs);
  }

  settled(): Promise<void> {
    return this.tasks.drain().then(() => undefined);
  }

  routes(): RawHttpRoute[] {
    const { webhookUrl, webhookSecret } = this.config;
    if (!webhookUrl || !webhookSecret) return [];
    const handle = this.transport.webhookHandler(webhookSecret, () => this.accepting);
    return [{ method: 'POST', path: new URL(webhookUrl).pathname, handle: (req: IncomingMessage & { rawBody: Buffer }, res: ServerResponse) => handle(req, res) }];
  }

  /**
   * A proactive message or a recovered reply: formatted, split, through the same budget as
   * replies; what an earlier attempt noted it showed is edited rather than sent again.
   */
  async deliver(msg: OutboundText): Promise<void> {
    await sendText(msg.text, { ...this.keys.decode(msg.key), replyKey: msg.dedupeKey }, this.out, { beforeFirstCall: msg.beforeFirstCall, maybeSent: msg.maybeSent });
  }

  planner(target: TelegramTarget): ReplyPlanner {
    return replyPlanner(target, this.out);
  }

  status(): AdapterStatus {
    return this.state.snapshot(this.budget.stats(), this.tasks.size);
  }

  /**
   * Called by telegraf for every update. Resolves once the engine has the message on disk — so
   * telegraf confirms the update to Telegram (the next getUpdates offset, or the webhook's 200)
   * only when a crash can no longer lose it — not when the reply is done. Normalizing runs in
   * per-chat order (so the engine sees messages in the order they arrived); delivering the reply
   * runs beside it.
   */
  private onUpdate(update: TgUpdate, webhook?: WebhookHold): Promise<void> {
    this.state.event();
    if (update.message !== undefined && !isWellFormedMessage(update.message)) {
      // Answered (confirmed) all the same: redelivering it would not make it readable.
      this.log.warn({ updateId: update.update_id }, 'telegram update ignored: its message is not shaped as the Bot API documents');
      return Promise.resolve();
    }
    const chat = update.message?.chat.id;
    if (chat === undefined || !this.accepting || !this.bot) return Promise.resolve();
    const bot = this.bot;
    const handled = this.ordered.run(String(chat), async () => {
      const msg = await toInbound(update, {
        bot,
        log: this.log,
        isChatAdmin: (chatId, userId) => this.isChatAdmin(chatId, userId),
        download: async (fileId, maxBytes) => (await this.transport.downloadFile(fileId, maxBytes)).bytes,
      });
      return msg ? { msg, events: this.deps.handler.handle(msg) } : undefined;
    });
    const task = handled
      .then((r) => (r ? deliverReply(r.events, this.replyTarget(r.msg), this.out) : undefined))
      .catch((err: unknown) => this.log.error({ err, updateId: update.update_id }, 'telegram update failed'));
    this.tasks.track(task);
    // The webhook answer waits (briefly) for the reply's start, so its typing rides in the answer.
    webhook?.holdUntil(task);
    return handled.then(
      (r) => r?.events.accepted,
      () => undefined,
    );
  }

  /** Replies go to the chat and topic the message came from, quoting it in groups. */
  private replyTarget(msg: InboundMessage): ReplyTarget {
    return { ...this.keys.decode(chatOf(msg)), replyKey: msg.eventId, ...(msg.chatType !== 'dm' ? { replyTo: Number(msg.messageId) } : {}) };
  }

  /** creator/administrator per getChatMember, trusted for `adminCacheMs`; errors count as "no". */
  private async isChatAdmin(chatId: number, userId: number): Promise<boolean> {
    try {
      return (await this.admins.fetch(`${chatId}:${userId}`)) ?? false;
    } catch (err) {
      this.log.warn({ err, chatId }, 'getChatMember failed; treating the sender as a regular member');
      return false;
    }
  }
}
