/**
 * The Telegram adapter: wires transport (telegraf) → inbound (update → InboundMessage) → the
 * engine → outbound (ReplyStream → sends, edits, drafts), with one outbound budget per bot.
 * Discord and Slack adapters follow the same shape: `createXAdapter(config, deps)` returning a
 * PlatformAdapter, the SDK confined to transport.ts, limits expressed as budget windows.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Log, MessageHandler, OutboundText, PlatformAdapter, RawHttpRoute } from '../../src/core/adapter.js';
import type { InboundMessage } from '../../src/core/types.js';
import { TaskTracker } from '../../src/core/tasks.js';
import { OutboundBudget, type RateWindow } from '../shared/budget.js';
import { OrderedByKey } from '../shared/ordered.js';
import { toInbound, type BotIdentity } from './inbound.js';
import { DraftSupport, deliverReply, sendText, type OutboundDeps, type ReplyTarget } from './outbound.js';
import { retryAfterMs, TelegramTransport, type TgUpdate } from './transport.js';

/** The `config.telegram` section (src/config.ts), restated so adapters import only src/core. */
export interface TelegramConfig {
  token: string;
  /** A self-hosted Bot API server (or the test fake); a bare origin. */
  apiRoot?: string | undefined;
  /** Set → webhook mode, served by our HTTP server at this URL's path. */
  webhookUrl?: string | undefined;
  webhookSecret?: string | undefined;
}

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

/** Commands shown in Telegram's menu; the engine implements them. */
export const TELEGRAM_COMMANDS = [
  { command: 'start', description: "The character's greeting" },
  { command: 'help', description: 'Show the commands' },
  { command: 'clear', description: 'Start fresh: forget the conversation so far' },
  { command: 'character', description: 'Show the characters, or switch: /character <name>' },
  { command: 'status', description: 'Conversation, character and usage' },
  { command: 'proactive', description: 'Let the character write first: /proactive on|off' },
  { command: 'admin', description: 'Chat admins: /admin scope|engage|limit …' },
];

export interface TelegramAdapterDeps {
  /** The engine. */
  handler: MessageHandler;
  log: Log;
  tuning?: Partial<TelegramTuning>;
  /** Clock for the budget and the admin cache (tests may pass their own). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface TelegramAdapter extends PlatformAdapter {
  /** Known after start(). */
  readonly bot: BotIdentity | undefined;
  /** Budget counters: sends, 429s waited out. */
  stats(): { sent: number; rateLimited: number; inFlight: number };
}

/**
 * @example
 * const telegram = createTelegramAdapter(config.telegram, { handler: engine, log });
 * await telegram.start(); // long polling, or webhook when config.webhookUrl is set
 */
export function createTelegramAdapter(config: TelegramConfig, deps: TelegramAdapterDeps): TelegramAdapter {
  return new TelegramBot(config, deps);
}

class TelegramBot implements TelegramAdapter {
  readonly platform = 'telegram' as const;
  bot: BotIdentity | undefined;
  private readonly tuning: TelegramTuning;
  private readonly log: Log;
  private readonly transport: TelegramTransport;
  private readonly budget: OutboundBudget;
  private readonly out: OutboundDeps;
  private readonly ordered = new OrderedByKey();
  private readonly tasks = new TaskTracker();
  /** getChatMember answers by `chatId:userId`; errors are not cached, so the next command asks again. */
  private readonly admins: LRUCache<string, boolean>;
  private readonly now: () => number;
  private accepting = false;

  constructor(
    private readonly config: TelegramConfig,
    private readonly deps: TelegramAdapterDeps,
  ) {
    if (config.webhookUrl && !config.webhookSecret) throw new Error('Telegram webhook mode needs TELEGRAM_WEBHOOK_SECRET');
    this.tuning = { ...TELEGRAM_TUNING, ...deps.tuning };
    this.log = deps.log.child?.({ platform: 'telegram' }) ?? deps.log;
    this.now = deps.now ?? Date.now;
    this.admins = new LRUCache<string, boolean>({
      max: 10_000,
      ttl: this.tuning.adminCacheMs,
      ttlResolution: 0,
      perf: { now: this.now },
      fetchMethod: async (key) => {
        const [chatId, userId] = key.split(':').map(Number) as [number, number];
        const status = await this.transport.chatMemberStatus(chatId, userId);
        return status === 'creator' || status === 'administrator';
      },
    });
    this.transport = new TelegramTransport({ token: config.token, apiRoot: config.apiRoot, log: this.log }, (u) => this.onUpdate(u));
    const { chatWindow, groupWindow, globalWindow } = this.tuning;
    this.budget = new OutboundBudget({
      // Negative ids are groups, supergroups and channels: they also get the per-minute window.
      windowsFor: (chatKey) => (chatKey.startsWith('-') ? [chatWindow, groupWindow] : [chatWindow]),
      global: [globalWindow],
      retryAfterMs,
      maxAttempts: this.tuning.maxAttempts,
      now: this.now,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      onRateLimited: (chatId, ms) => this.log.info({ chatId, retryAfterMs: ms }, 'telegram flood limit: waiting it out'),
    });
    this.out = { transport: this.transport, budget: this.budget, drafts: new DraftSupport(), log: this.log, tuning: this.tuning };
  }

  async start(): Promise<void> {
    this.bot = await this.transport.me();
    this.accepting = true;
    await this.transport.setCommands(TELEGRAM_COMMANDS).catch((err: unknown) => this.log.warn({ err }, 'setMyCommands failed; commands still work, the menu may be stale'));
    if (this.config.webhookUrl && this.config.webhookSecret) {
      await this.transport.startWebhook(this.config.webhookUrl, this.config.webhookSecret);
      this.log.info({ path: new URL(this.config.webhookUrl).pathname, bot: this.bot.username }, 'telegram webhook set');
    } else {
      await this.transport.startPolling();
      this.log.info({ bot: this.bot.username }, 'telegram long polling started');
    }
  }

  async stop(): Promise<void> {
    this.accepting = false;
    await this.transport.stop();
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

  /** Proactive message: formatted, split, through the same budget as replies. */
  async deliver(msg: OutboundText): Promise<void> {
    const chatId = Number(msg.key.chatId);
    const target: ReplyTarget = { chatId, isPrivate: chatId > 0, ...(msg.key.threadId ? { threadId: Number(msg.key.threadId) } : {}) };
    await sendText(msg.text, target, this.out);
  }

  stats(): { sent: number; rateLimited: number; inFlight: number } {
    const s = this.budget.stats();
    return { sent: s.sent, rateLimited: s.rateLimited, inFlight: this.tasks.size };
  }

  /**
   * Called by telegraf for every update. Resolves once the engine has the message on disk — so
   * telegraf confirms the update to Telegram (the next getUpdates offset, or the webhook's 200)
   * only when a crash can no longer lose it — not when the reply is done. Normalizing runs in
   * per-chat order (so the engine sees messages in the order they arrived); delivering the reply
   * runs beside it.
   */
  private onUpdate(update: TgUpdate): Promise<void> {
    const chat = update.message?.chat.id;
    if (chat === undefined || !this.accepting || !this.bot) return Promise.resolve();
    const bot = this.bot;
    const handled = this.ordered.run(String(chat), async () => {
      const msg = await toInbound(update, {
        bot,
        log: this.log,
        isChatAdmin: (chatId, userId) => this.isChatAdmin(chatId, userId),
        download: async (fileId) => (await this.transport.downloadFile(fileId)).bytes,
      });
      return msg ? { msg, events: this.deps.handler.handle(msg) } : undefined;
    });
    const task = handled
      .then((r) => (r ? deliverReply(r.events, targetOf(r.msg), this.out) : undefined))
      .catch((err: unknown) => this.log.error({ err, updateId: update.update_id }, 'telegram update failed'));
    this.tasks.track(task);
    return handled.then(
      (r) => r?.events.accepted,
      () => undefined,
    );
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

/** Replies go to the topic the message came from, quoting it in groups. */
function targetOf(msg: InboundMessage): ReplyTarget {
  const chatId = Number(msg.chatId);
  return {
    chatId,
    isPrivate: msg.chatType === 'dm',
    ...(msg.threadId !== undefined ? { threadId: Number(msg.threadId) } : {}),
    ...(msg.chatType !== 'dm' ? { replyTo: Number(msg.messageId) } : {}),
  };
}
