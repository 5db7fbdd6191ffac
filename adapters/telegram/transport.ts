/**
 * The only file that imports telegraf. Everything else in the adapter sees this narrow surface:
 * receive updates (long polling or webhook), a handful of Bot API calls, and a classifier for
 * Telegram's errors — so the rest reads as plain TypeScript and the SDK can be swapped (grammY,
 * raw fetch) by rewriting one file.
 *
 * Things telegraf does that this file works around, learned against the fake and the real API:
 * - `launch()` resolves only when polling *stops*; its callback fires after getMe but before
 *   polling exists, and `stop()` throws "Bot is not running!" in that gap.
 * - In webhook mode telegraf would answer some calls inside the webhook response
 *   (`webhookReply`); that hides errors and results, so it is off. Only "typing…", whose result
 *   nobody reads, rides in the webhook answer when the turn starts soon enough (`WebhookReply`).
 * - A 429 from sendMessage is not retried by telegraf: it throws `TelegramError` (whose `.name`
 *   is "Error" — use `instanceof`) with `parameters.retry_after`. The outbound budget retries.
 * - The apiRoot is resolved relative to (`./bot<token>/…`), so a path prefix survives only with
 *   a trailing slash: `normalizeApiRoot` adds it.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Telegraf, TelegramError } from 'telegraf';
import type { Update } from 'telegraf/types';
import type { Log } from '../../src/core/adapter.js';
import type { Network } from '../../src/core/network.js';
import type { TransportEvents } from '../shared/status.js';
import { WebhookReply } from './webhook-reply.js';

/** telegraf's own default API root. */
const TELEGRAM_API = 'https://api.telegram.org';

/** How long a webhook answer waits for its turn's "typing…" to ride in it (see WebhookReply). */
const WEBHOOK_REPLY_WAIT_MS = 200;

/** What the update handler may do with the webhook answer of its update (absent when polling). */
export type WebhookHold = Pick<WebhookReply, 'holdUntil'>;

/** The parts of a Bot API Message that inbound.ts reads (a structural subset of Telegram's type). */
export interface TgMessage extends TgMessageFields {
  /** In a forum topic, the topic's creation message unless the user replied to something else. */
  reply_to_message?: TgMessageFields;
}
export interface TgMessageFields {
  message_id: number;
  message_thread_id?: number;
  is_topic_message?: boolean;
  from?: TgUser;
  sender_chat?: { id: number; type: string; title?: string };
  chat: { id: number; type: 'private' | 'group' | 'supergroup' | 'channel'; title?: string; is_forum?: boolean };
  text?: string;
  caption?: string;
  entities?: TgEntity[];
  caption_entities?: TgEntity[];
  photo?: Array<{ file_id: string; width: number; height: number; file_size?: number }>;
  document?: { file_id: string; file_name?: string; mime_type?: string; file_size?: number };
  forum_topic_created?: unknown;
  [media: string]: unknown;
}
export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
}
export interface TgEntity {
  type: string;
  offset: number;
  length: number;
  user?: TgUser;
}
export interface TgUpdate {
  update_id: number;
  message?: TgMessage;
}

export interface SendOptions {
  /** 'HTML' for formatted text; absent for plain text. */
  parseMode?: 'HTML' | undefined;
  threadId?: number | undefined;
  /** Reply to this message (quietly sent without the reply if it was deleted). */
  replyTo?: number | undefined;
}

/** What went wrong with a Bot API call, in the terms the adapter acts on. */
export type TelegramErrorKind = 'rate-limited' | 'parse' | 'not-modified' | 'method-missing' | 'other';

export function telegramErrorKind(err: unknown): TelegramErrorKind {
  if (!(err instanceof TelegramError)) return 'other';
  const d = err.description ?? '';
  if (err.code === 429) return 'rate-limited';
  if (err.code === 400 && /can't parse entities/i.test(d)) return 'parse';
  if (err.code === 400 && /message is not modified/i.test(d)) return 'not-modified';
  if (err.code === 404 || (err.code === 400 && /method.*(not found|unknown|unsupported)|unknown method/i.test(d))) return 'method-missing';
  return 'other';
}

/** The wait Telegram asked for, when `err` is a 429; otherwise undefined. */
export function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof TelegramError) || err.code !== 429) return undefined;
  const seconds = Number(err.parameters?.retry_after ?? 1);
  return Math.max(1, Number.isFinite(seconds) ? seconds : 1) * 1000;
}

/**
 * A 409 Conflict from another client's getUpdates, which ended ours. Not the 409 that says a
 * webhook is set: polling again would delete it (launch does), so that one still stops polling.
 */
function isPollingConflict(err: unknown): boolean {
  return err instanceof TelegramError && err.code === 409 && !/webhook/i.test(err.description);
}

/** The first pause before polling again after a 409, doubled each time up to `MAX_REPOLL_MS`. */
const FIRST_REPOLL_MS = 1000;
const MAX_REPOLL_MS = 30_000;

/** Largest file we download to hand to the model (Telegram's getFile itself stops at 20 MB). */
const MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024;

export class TelegramTransport {
  private readonly bot: Telegraf;
  private polling: Promise<void> | undefined;
  /** Polling to start again after a 409, until `stop()`; and how many 409s came in a row. */
  private repoll: NodeJS.Timeout | undefined;
  private conflicts = 0;
  private botInfo: { id: number; username: string } | undefined;
  /** Webhook answers not yet written, by the update they answer and by its chat (typing rides in them). */
  private readonly answers = new WeakMap<object, WebhookReply>();
  private readonly openByChat = new Map<number, WebhookReply>();

  constructor(
    private readonly opts: { token: string; apiRoot?: string | undefined; log: Log; events?: TransportEvents | undefined; network?: Network | undefined },
    onUpdate: (update: TgUpdate, webhook?: WebhookHold) => void | Promise<void>,
  ) {
    const telegram = { webhookReply: false, ...(opts.apiRoot ? { apiRoot: normalizeApiRoot(opts.apiRoot) } : {}) };
    // No deadline on the handler: it resolves once the message is on disk, which a database down
    // for minutes delays. telegraf's default (90 s) would give up on it and confirm the update
    // (the next getUpdates, or the webhook's 200) while the claim still waits: lost if this
    // process then died.
    this.bot = new Telegraf(opts.token, { telegram, handlerTimeout: Infinity });
    // Through the proxy, when one applies. Set after construction: telegraf drops a given agent
    // for an http:// apiRoot (its default agent is an https one).
    const agent = opts.network?.agentFor(telegram.apiRoot ?? TELEGRAM_API);
    if (agent) this.bot.telegram.options.agent = agent;
    // The handler resolves once the engine has the message on disk; replies are delivered outside
    // telegraf's middleware, so a long reply never holds up polling (telegraf awaits each batch
    // before confirming it with the next getUpdates).
    this.bot.use((ctx) => onUpdate(ctx.update as unknown as TgUpdate, this.answers.get(ctx.update)));
    this.bot.catch((err, ctx) => {
      opts.events?.failed(err);
      opts.log.error({ err, updateId: ctx.update.update_id }, 'telegram update handler failed');
    });
  }

  /** The bot's own id and username (getMe, once). */
  async me(): Promise<{ id: number; username: string }> {
    if (!this.botInfo) {
      const me = await this.bot.telegram.getMe();
      this.bot.botInfo = me;
      this.botInfo = { id: me.id, username: me.username };
    }
    return this.botInfo;
  }

  /**
   * Start long polling; resolves once telegraf has launched. Telegram ends a parked getUpdates with
   * 409 when another client asks for this token's updates: a leader still polling for a moment
   * after Redis lost its lock to the next one, or a deploy's old process. Polling then starts again
   * after a pause (1 s, doubling up to 30 s while it keeps happening), until `stop()`; without it,
   * no update would arrive again. Other errors after launch (a revoked token's 401) are logged.
   */
  async startPolling(): Promise<void> {
    await this.me();
    await new Promise<void>((resolve, reject) => {
      let launched = false;
      const startedAt = Date.now();
      const polling = this.bot.launch({ allowedUpdates: ['message'] }, () => {
        launched = true;
        this.opts.events?.connected();
        resolve();
      });
      this.polling = polling;
      polling.then(
        () => {
          this.opts.events?.disconnected();
          this.opts.log.info('telegram polling stopped');
        },
        (err: unknown) => {
          this.opts.events?.disconnected(err);
          if (!launched) reject(err);
          else if (isPollingConflict(err) && this.polling === polling) {
            // A poll that lasted a while means the last conflict is over: start the pauses afresh.
            this.conflicts = Date.now() - startedAt > 2 * MAX_REPOLL_MS ? 1 : this.conflicts + 1;
            const pauseMs = Math.min(MAX_REPOLL_MS, FIRST_REPOLL_MS * 2 ** (this.conflicts - 1));
            this.opts.log.warn({ err, pauseMs }, 'telegram polling was ended by another client polling this token (another instance, or a deploy still running the old one); polling again after a pause');
            this.repoll = setTimeout(() => {
              if (this.polling !== polling) return;
              this.startPolling().catch((again: unknown) => this.opts.log.error({ err: again }, 'telegram polling could not start again; no more updates will arrive'));
            }, pauseMs);
            this.repoll.unref();
          } else this.opts.log.error({ err }, 'telegram polling stopped with an error; no more updates will arrive');
        },
      );
    });
  }

  /** Point Telegram at our webhook URL with a secret it will echo in every request. */
  async startWebhook(url: string, secret: string): Promise<void> {
    await this.me();
    await this.bot.telegram.setWebhook(url, { secret_token: secret, allowed_updates: ['message'] });
    this.opts.events?.connected();
  }

  /**
   * A node-style handler for Telegram's webhook POSTs: 403 unless the secret header matches,
   * 400 for a body that is not JSON, else the update is handed to telegraf and answered 200 —
   * with the turn's typing call in the body when it came in time.
   */
  webhookHandler(secret: string, accepting: () => boolean): (req: IncomingMessage & { rawBody: Buffer }, res: ServerResponse) => Promise<void> {
    const expected = Buffer.from(secret);
    return async (req, res) => {
      const got = req.headers['x-telegram-bot-api-secret-token'];
      const given = Buffer.from(typeof got === 'string' ? got : '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(403).end();
        return;
      }
      if (!accepting()) {
        res.writeHead(503, { 'retry-after': '5' }).end(); // Telegram redelivers later, to the next instance
        return;
      }
      let update: unknown;
      try {
        update = JSON.parse(req.rawBody.toString('utf8'));
      } catch {
        update = undefined;
      }
      // telegraf reads fields of whatever it is given: anything but an object would throw inside it.
      if (typeof update !== 'object' || update === null || Array.isArray(update)) {
        res.writeHead(400).end();
        return;
      }
      const answer = new WebhookReply();
      const chatId = (update as TgUpdate).message?.chat?.id;
      this.answers.set(update, answer);
      if (typeof chatId === 'number') this.openByChat.set(chatId, answer);
      try {
        await this.bot.handleUpdate(update as Update);
        await answer.settle(WEBHOOK_REPLY_WAIT_MS);
      } catch (err) {
        // The route is ours alone (hijacked): an unanswered request would hang the client and the server's close.
        this.opts.events?.failed(err);
        this.opts.log.error({ err }, 'telegram webhook update failed');
        if (!res.headersSent) res.writeHead(500);
        if (!res.writableEnded) res.end();
        return;
      } finally {
        answer.close();
        if (typeof chatId === 'number' && this.openByChat.get(chatId) === answer) this.openByChat.delete(chatId);
      }
      const body = answer.body;
      if (!res.headersSent) res.writeHead(200, body ? { 'content-type': 'application/json' } : {});
      if (!res.writableEnded) res.end(body);
    };
  }

  /** Stop polling (confirming handled updates to Telegram); a no-op in webhook mode. */
  async stop(): Promise<void> {
    this.opts.events?.disconnected();
    clearTimeout(this.repoll);
    const polling = this.polling;
    if (!polling) return;
    this.polling = undefined;
    // launch() creates the poller only after deleteWebhook returns: retry stop() through that gap.
    for (let i = 0; i < 100; i++) {
      try {
        this.bot.stop('adapter stop');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await Promise.race([polling.catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
  }

  async sendMessage(chatId: number, text: string, o: SendOptions = {}): Promise<number> {
    const m = await this.bot.telegram.sendMessage(chatId, text, extra(o));
    return m.message_id;
  }

  async editMessageText(chatId: number, messageId: number, text: string, o: SendOptions = {}): Promise<void> {
    await this.bot.telegram.editMessageText(chatId, messageId, undefined, text, o.parseMode ? { parse_mode: o.parseMode } : {});
  }

  /** Bot API 9.x: an animated, ephemeral preview in a private chat; a later sendMessage persists it. */
  async sendMessageDraft(chatId: number, draftId: number, text: string, o: SendOptions = {}): Promise<void> {
    const call = this.bot.telegram.callApi.bind(this.bot.telegram) as unknown as (method: string, payload: object) => Promise<unknown>;
    await call('sendMessageDraft', {
      chat_id: chatId,
      draft_id: draftId,
      text,
      ...(o.parseMode ? { parse_mode: o.parseMode } : {}),
      ...(o.threadId ? { message_thread_id: o.threadId } : {}),
    });
  }

  /** "typing…": in the chat's open webhook answer when there is one, else as a request. */
  async sendTyping(chatId: number, threadId?: number): Promise<void> {
    const thread = threadId ? { message_thread_id: threadId } : {};
    if (this.openByChat.get(chatId)?.offer('sendChatAction', { chat_id: chatId, action: 'typing', ...thread })) return;
    await this.bot.telegram.sendChatAction(chatId, 'typing', thread);
  }

  /** 'creator' | 'administrator' | 'member' | 'restricted' | 'left' | 'kicked'. */
  async chatMemberStatus(chatId: number, userId: number): Promise<string> {
    return (await this.bot.telegram.getChatMember(chatId, userId)).status;
  }

  /**
   * Download a file's bytes. The download URL contains the bot token, so it stays in here: callers
   * get bytes, and errors never carry the URL.
   */
  async downloadFile(fileId: string, maxBytes = MAX_DOWNLOAD_BYTES): Promise<{ bytes: Buffer; filePath: string }> {
    const cap = Math.min(maxBytes, MAX_DOWNLOAD_BYTES);
    const file = await this.bot.telegram.getFile(fileId);
    if (!file.file_path) throw new Error('Telegram gave no file_path for this file');
    if ((file.file_size ?? 0) > cap) throw new Error(`file too large (${file.file_size} bytes)`);
    const url = await this.bot.telegram.getFileLink(file);
    if (url.protocol === 'file:') {
      // A local Bot API server (--local) hands out absolute paths on its own disk.
      const bytes = await readFile(fileURLToPath(url));
      if (bytes.length > cap) throw new Error(`file too large (${bytes.length} bytes)`);
      return { bytes, filePath: file.file_path };
    }
    let res: Response;
    try {
      const dispatcher = this.opts.network?.dispatcher;
      res = await fetch(url, { signal: AbortSignal.timeout(30_000), ...(dispatcher ? { dispatcher } : {}) } as RequestInit);
    } catch (err) {
      throw new Error(`file download failed: ${err instanceof Error ? err.name : 'error'}`);
    }
    if (!res.ok) throw new Error(`file download failed: HTTP ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > cap) throw new Error(`file too large (${bytes.length} bytes)`);
    return { bytes, filePath: file.file_path };
  }

  async setCommands(commands: Array<{ command: string; description: string }>): Promise<void> {
    await this.bot.telegram.setMyCommands(commands);
  }
}

/**
 * telegraf resolves `./bot<token>/<method>` against apiRoot, so a path without a trailing slash
 * is silently dropped: keep the origin as is, and give a path its trailing slash.
 */
export function normalizeApiRoot(apiRoot: string): string {
  const u = new URL(apiRoot);
  const path = u.pathname.replace(/\/+$/, '');
  return path ? `${u.origin}${path}/` : u.origin;
}

function extra(o: SendOptions) {
  return {
    ...(o.parseMode ? { parse_mode: o.parseMode } : {}),
    ...(o.threadId ? { message_thread_id: o.threadId } : {}),
    ...(o.replyTo ? { reply_parameters: { message_id: o.replyTo, allow_sending_without_reply: true } } : {}),
  };
}
