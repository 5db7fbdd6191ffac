/**
 * A fake Telegram Bot API server for tests: a real `node:http` server on 127.0.0.1 (port 0)
 * that the real telegraf client talks to via `new Telegraf(token, { telegram: { apiRoot } })`,
 * so tests exercise telegraf's own HTTP, long polling, command matching, webhook and error
 * mapping code. It keeps chats, messages, members and files in memory, long-polls for real,
 * validates parse modes (./telegram-format.ts) and enforces flood limits (./telegram-flood.ts)
 * with Telegram's wording, because those are the failures an adapter must survive.
 * See /work/shared/design/PLATFORM-FAKES.md ("Telegram").
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FloodControl, TELEGRAM_LIMITS, type FloodLimits } from './telegram-flood.js';
import { ApiError, badRequest, num, truthy, TelegramState, type BotMessageView, type ChatMemberStatus, type FileInfo, type UserMessageInput } from './telegram-state.js';
import { postUpdate, WebhookClient } from './telegram-webhook.js';

export type { BotMessageView, ChatMemberStatus, FileInfo, UserMessageInput } from './telegram-state.js';
export { TELEGRAM_LIMITS, type FloodLimits } from './telegram-flood.js';

export interface FakeTelegramOptions {
  /** Default '7000000001:charbridge-fake-token'; the digits before ':' become the bot's id. */
  token?: string;
  /** Default 'charbridge_test_bot'. */
  botUsername?: string;
  /** Flood limits; defaults are Telegram's documented ones ({@link TELEGRAM_LIMITS}). */
  limits?: Partial<FloodLimits>;
  /** Clock for flood control, `date` fields and call records; default Date.now. */
  now?: () => number;
  /** false → sendMessageDraft answers 404 like a Bot API server older than 9.x. Default true. */
  draftsSupported?: boolean;
}

export interface RecordedCall {
  method: string;
  params: any;
  /** Clock time the request arrived (a parked getUpdates is recorded when it is answered). */
  at: number;
  /** HTTP status answered; 499 = the client gave up on a parked getUpdates. */
  status: number;
  ok: boolean;
  /** Set when the call came in a webhook answer's body rather than as a request. */
  viaWebhookReply?: true;
}

export interface FakeTelegram {
  /** 'http://127.0.0.1:PORT' — a bare origin, because telegraf drops any path in apiRoot. */
  apiRoot: string;
  token: string;
  bot: { id: number; username: string };
  calls: RecordedCall[];
  tooManyRequests: number;
  /** Every sendMessageDraft that succeeded, in order. */
  drafts: Array<{ chat_id: number; draft_id: number; text: string; parse_mode?: string; message_thread_id?: number }>;
  /** Number of getUpdates requests currently parked (long polling). */
  readonly pendingPolls: number;
  /** Queue an update for getUpdates; assigns update_id if absent; returns the full update. */
  pushUpdate(update: object): any;
  /** A message from a user → queued update. Text gets bot_command / mention entities like Telegram adds. */
  userMessage(o: UserMessageInput): any;
  /** Deliver an update again (Telegram does after an unconfirmed batch); handed out once more even if confirmed. */
  redeliver(update: object): void;
  /** The next send (sendMessage, edit, draft, photo) is refused with 429 and `retry_after`, whatever the flood state. */
  rateLimitNext(retryAfterSeconds?: number): void;
  /** Build (and store) the update without queueing, for webhook-mode tests that POST it themselves. */
  buildUserMessage(o: UserMessageInput): any;
  /** The bot's messages in a chat as they look now (after edits, without deleted ones), in order. */
  botMessages(chatId: number, threadId?: number): BotMessageView[];
  setChatMember(chatId: number, userId: number, status: ChatMemberStatus): void;
  /** Registers a downloadable file; returns its File object (file_id, file_path, …). */
  addFile(bytes: Buffer, dir?: string, ext?: string): FileInfo;
  /** Forgets flood history and penalties, and the 429s `rateLimitNext` still had to give. */
  resetFlood(): void;
  /**
   * POST an update to a webhook like Telegram does (with X-Telegram-Bot-Api-Secret-Token when
   * given). A JSON method call in the response body (telegraf's webhookReply) is executed.
   */
  postWebhook(url: string, update: object, secretToken?: string): Promise<{ status: number; body: string }>;
  /**
   * Resolves once the client has taken and confirmed every queued update (a later getUpdates is
   * parked, so telegraf's handlers for them returned) and no other request is in flight: what a
   * test waits for before asserting that something did NOT happen. Rejects after `timeoutMs`.
   */
  idle(timeoutMs?: number): Promise<void>;
  /**
   * Deliver an update the way Telegram does once a bot called setWebhook: to that URL, with the
   * secret_token it registered, over kept-alive connections. Rejects when no webhook is set.
   */
  deliver(update: object): Promise<{ status: number; body: string }>;
  /** Calls `listener` with every call as it is recorded (load drivers react to replies landing); returns an unsubscribe. */
  onCall(listener: (call: RecordedCall) => void): () => void;
  /** Answers parked long polls, drops every socket and stops listening. */
  close(): Promise<void>;
}

/** Sends that count against flood limits. */
const FLOOD_METHODS = new Set(['sendMessage', 'editMessageText', 'sendPhoto', 'sendMessageDraft']);
/** Form-encoded and query parameters carry these as JSON strings. */
const JSON_FIELDS = new Set(['reply_markup', 'entities', 'caption_entities', 'reply_parameters', 'allowed_updates', 'commands', 'scope', 'link_preview_options']);
const CHAT_ACTIONS = new Set(['typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice', 'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note']);

const errorBody = (e: ApiError) => ({ ok: false, error_code: e.code, description: e.description, ...(e.parameters ? { parameters: e.parameters } : {}) });

interface Waiter { offset: number; limit: number; allowed: string[]; finish(r: any[] | ApiError): void }

class FakeTelegramServer implements FakeTelegram {
  apiRoot = '';
  readonly bot: { id: number; username: string };
  readonly calls: RecordedCall[] = [];
  tooManyRequests = 0;
  readonly drafts: FakeTelegram['drafts'] = [];
  private readonly botUser: Record<string, unknown>;
  private readonly flood: FloodControl;
  private readonly now: () => number;
  private readonly state: TelegramState;
  private readonly commands = new Map<string, unknown>();
  private readonly waiters = new Set<Waiter>();
  private queue: Array<{ update: any; forced: boolean }> = [];
  private nextUpdateId = 1000;
  private webhook: { url: string; secret?: string } | null = null;
  private webhookClient: WebhookClient | undefined;
  private readonly listeners = new Set<(call: RecordedCall) => void>();
  private closed = false;
  /** Requests being answered, long polls excluded. */
  private busy = 0;
  /** `retry_after` of sends to refuse next, oldest first (rateLimitNext). */
  private readonly forced429: number[] = [];
  private readonly server = createServer((req, res) => {
    this.onRequest(req, res).catch((e: unknown) => {
      if (res.headersSent) res.destroy();
      else send(res, 500, errorBody(new ApiError(500, `Internal Server Error: ${String(e)}`)));
    });
  });
  /** Canonical method name by lower-case name: the Bot API matches method names case-insensitively. */
  private readonly methods = new Map<string, string>();
  private readonly handlers: Record<string, (p: any) => unknown> = {
    getMe: () => ({ ...this.botUser, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }),
    deleteWebhook: (p) => this.setHook(null, p),
    setWebhook: (p) => this.setHook(p.url ? { url: String(p.url), secret: p.secret_token } : null, p),
    getWebhookInfo: () => ({ url: this.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: this.queue.length }),
    setMyCommands: (p) => {
      const list: any[] = Array.isArray(p.commands) ? p.commands : [];
      if (list.some((c) => !/^[a-z0-9_]{1,32}$/.test(String(c?.command)))) throw badRequest('BOT_COMMAND_INVALID');
      if (list.some((c) => !c?.description || String(c.description).length > 256)) throw badRequest('BOT_COMMAND_DESCRIPTION_INVALID');
      this.commands.set(JSON.stringify([p.scope ?? null, p.language_code ?? '']), list);
      return true;
    },
    getMyCommands: (p) => this.commands.get(JSON.stringify([p.scope ?? null, p.language_code ?? ''])) ?? [],
    sendMessage: (p) => this.state.send(p, 'text'),
    sendPhoto: (p) => this.state.send(p, 'photo'),
    editMessageText: (p) => this.state.edit(p),
    sendMessageDraft: (p) => {
      const chat_id = this.state.chatIdOf(p.chat_id);
      const { text } = this.state.format(String(p.text ?? ''), p.parse_mode, p.entities);
      if (text.length > 4096) throw badRequest('message is too long');
      const thread = num(p.message_thread_id);
      this.drafts.push({ chat_id, draft_id: num(p.draft_id) ?? 0, text, ...(p.parse_mode ? { parse_mode: String(p.parse_mode) } : {}), ...(thread ? { message_thread_id: thread } : {}) });
      return true;
    },
    sendChatAction: (p) => {
      this.state.chatIdOf(p.chat_id);
      if (!CHAT_ACTIONS.has(String(p.action))) throw badRequest('wrong parameter action in request');
      return true;
    },
    getChat: (p) => this.state.chat(this.state.chatIdOf(p.chat_id)).chat,
    getChatMember: (p) => this.state.chatMember(p),
    getFile: (p) => this.state.getFile(p.file_id),
    deleteMessage: (p) => this.state.deleteMessage(p),
    answerCallbackQuery: () => true,
  };

  constructor(readonly token: string, opts: FakeTelegramOptions) {
    this.now = opts.now ?? Date.now;
    this.flood = new FloodControl({ ...TELEGRAM_LIMITS, ...opts.limits }, this.now);
    const id = Number(/^(\d+):/.exec(token)?.[1] ?? 7000000001);
    this.bot = { id, username: opts.botUsername ?? 'charbridge_test_bot' };
    this.botUser = { id, is_bot: true, first_name: 'Charbridge Test', username: this.bot.username };
    this.state = new TelegramState(this.botUser as { id: number }, this.now);
    if (opts.draftsSupported === false) delete this.handlers.sendMessageDraft;
    for (const name of Object.keys(this.handlers)) this.methods.set(name.toLowerCase(), name);
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.apiRoot = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private record(call: RecordedCall): void {
    this.calls.push(call);
    for (const l of this.listeners) l(call);
  }

  onCall(listener: (call: RecordedCall) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get pendingPolls(): number {
    return this.waiters.size;
  }

  async idle(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 || this.waiters.size === 0 || this.busy > 0) {
      if (Date.now() > deadline) throw new Error(`fake Telegram: not idle after ${timeoutMs} ms (${this.queue.length} updates queued, ${this.busy} requests in flight)`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const at = this.now();
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (file) {
      const bytes = this.state.fileBytes(decodeURIComponent(file[2]!));
      if (decodeURIComponent(file[1]!) !== this.token || !bytes) return send(res, 404, errorBody(new ApiError(404, 'Not Found')));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length }).end(bytes);
      return;
    }
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!m) return send(res, 404, errorBody(new ApiError(404, 'Not Found')));
    let params: any;
    try {
      params = { ...fromSearch(url.searchParams), ...(await readBody(req)) };
    } catch (e) {
      return send(res, 400, errorBody(e instanceof ApiError ? e : badRequest(String(e))));
    }
    const method = this.methods.get(m[2]!.toLowerCase()) ?? m[2]!;
    if (decodeURIComponent(m[1]!) !== this.token) {
      this.record({ method, params, at, status: 401, ok: false });
      return send(res, 401, errorBody(new ApiError(401, 'Unauthorized')));
    }
    if (method.toLowerCase() === 'getupdates') return this.getUpdates(params, res, at);
    this.busy++;
    res.once('close', () => this.busy--);
    const { status, body } = this.call(method, params, at);
    send(res, status, body);
  }

  /** Runs one API method (HTTP or webhook reply): flood check, handler, call record. */
  private call(method: string, params: any, at: number, viaWebhookReply = false): { status: number; body: object } {
    let status = 200;
    let body: object;
    try {
      const handler = this.handlers[method];
      if (!handler) throw new ApiError(404, 'Not Found');
      const floodChat = FLOOD_METHODS.has(method) ? this.state.chatIdOf(params.chat_id) : undefined;
      const forced = floodChat === undefined ? undefined : this.forced429.shift();
      const wait = floodChat === undefined ? 0 : (forced ?? this.flood.check(floodChat));
      if (wait > 0) {
        this.tooManyRequests++;
        throw new ApiError(429, `Too Many Requests: retry after ${wait}`, { retry_after: wait });
      }
      body = { ok: true, result: handler(params) };
      if (floodChat !== undefined) this.flood.record(floodChat);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, `Internal Server Error: ${String(e)}`);
      status = err.code;
      body = errorBody(err);
    }
    this.record({ method, params, at, status, ok: status === 200, ...(viaWebhookReply ? { viaWebhookReply: true as const } : {}) });
    return { status, body };
  }

  /** Real long polling: answers at once when updates are ready, else parks until one arrives, timeout, abort or close. */
  private getUpdates(params: any, res: ServerResponse, at: number): void {
    const done = (r: any[] | ApiError) => {
      const status = r instanceof ApiError ? r.code : 200;
      this.record({ method: 'getUpdates', params, at, status, ok: status === 200 });
      if (!res.writableEnded && !res.destroyed) send(res, status, r instanceof ApiError ? errorBody(r) : { ok: true, result: r });
    };
    if (this.webhook) return done(new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"));
    for (const w of this.waiters) w.finish(new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
    const offset = num(params.offset) ?? 0;
    const limit = Math.min(100, Math.max(1, num(params.limit) ?? 100));
    const timeout = Math.max(0, num(params.timeout) ?? 0);
    const allowed: string[] = Array.isArray(params.allowed_updates) ? params.allowed_updates : [];
    if (offset > 0) this.queue = this.queue.filter((e) => e.forced || e.update.update_id >= offset); // confirmed
    const ready = this.take(offset, limit, allowed);
    if (ready.length > 0 || timeout === 0 || this.closed) return done(ready);
    const w: Waiter = {
      offset, limit, allowed,
      finish: (r) => {
        this.waiters.delete(w);
        clearTimeout(timer);
        done(r);
      },
    };
    const timer = setTimeout(() => w.finish([]), timeout * 1000);
    res.on('close', () => {
      if (!this.waiters.delete(w)) return;
      clearTimeout(timer);
      this.record({ method: 'getUpdates', params, at, status: 499, ok: false });
    });
    this.waiters.add(w);
  }

  /** Updates a getUpdates(offset, limit) would return; forced duplicates are handed out once. */
  private take(offset: number, limit: number, allowed: string[]): any[] {
    const out: any[] = [];
    for (const e of [...this.queue]) {
      if (out.length >= limit) break;
      if (!e.forced && e.update.update_id < offset) continue;
      if (allowed.length > 0 && !allowed.some((k) => k in e.update)) continue;
      out.push(e.update);
      if (e.forced) this.queue.splice(this.queue.indexOf(e), 1);
    }
    return out;
  }

  private flush(): void {
    for (const w of this.waiters) {
      const ready = this.take(w.offset, w.limit, w.allowed);
      if (ready.length > 0) w.finish(ready);
    }
  }

  private setHook(hook: { url: string; secret?: string } | null, p: any): true {
    this.webhook = hook;
    if (truthy(p.drop_pending_updates)) this.queue = [];
    if (hook) for (const w of this.waiters) w.finish(new ApiError(409, 'Conflict: terminated by setWebhook request'));
    return true;
  }

  pushUpdate(update: object): any {
    const u = this.enqueue(update, false);
    this.flush();
    return u;
  }

  private enqueue(update: object, forced: boolean): any {
    const u: any = { ...update };
    if (typeof u.update_id !== 'number') u.update_id = this.nextUpdateId++;
    else this.nextUpdateId = Math.max(this.nextUpdateId, u.update_id + 1);
    this.queue.push({ update: u, forced });
    return u;
  }

  redeliver(update: object): void {
    this.enqueue(update, true);
    this.flush();
  }

  rateLimitNext(retryAfterSeconds = 1): void {
    this.forced429.push(retryAfterSeconds);
  }

  userMessage(o: UserMessageInput): any {
    const u = this.enqueue(this.buildUserMessage(o), false);
    if (o.duplicate) this.enqueue(u, true);
    this.flush();
    return u;
  }

  buildUserMessage(o: UserMessageInput): any {
    return { update_id: this.nextUpdateId++, message: this.state.userMessage(o) };
  }

  botMessages(chatId: number, threadId?: number): BotMessageView[] {
    return this.state.botMessages(chatId, threadId);
  }

  setChatMember(chatId: number, userId: number, status: ChatMemberStatus): void {
    this.state.setChatMember(chatId, userId, status);
  }

  addFile(bytes: Buffer, dir?: string, ext?: string): FileInfo {
    return this.state.addFile(bytes, dir, ext);
  }

  resetFlood(): void {
    this.flood.reset();
    this.forced429.length = 0;
  }

  async postWebhook(url: string, update: object, secretToken?: string): Promise<{ status: number; body: string }> {
    const { status, body, contentType } = await postUpdate(url, update, secretToken, false);
    if (contentType.includes('application/json')) this.runWebhookReply(body);
    return { status, body };
  }

  async deliver(update: object): Promise<{ status: number; body: string }> {
    const hook = this.webhook;
    if (!hook) throw new Error('fake Telegram: deliver() needs a webhook set with setWebhook');
    this.webhookClient ??= new WebhookClient();
    const { status, body, contentType } = await this.webhookClient.post(hook.url, update, hook.secret);
    if (contentType.includes('application/json')) this.runWebhookReply(body);
    return { status, body };
  }

  /** telegraf's webhookReply answers some calls in the webhook response body; Telegram runs them. */
  private runWebhookReply(body: string): void {
    let parsed: any;
    try {
      parsed = JSON.parse(body);
    } catch {
      return; // not a method call: Telegram ignores the body too
    }
    const { method, ...params } = parsed ?? {};
    if (typeof method === 'string') this.call(this.methods.get(method.toLowerCase()) ?? method, params, this.now(), true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.webhookClient?.close();
    for (const w of this.waiters) w.finish([]);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function fromSearch(sp: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of sp) {
    try {
      out[k] = JSON_FIELDS.has(k) ? JSON.parse(v) : v;
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** JSON or x-www-form-urlencoded body; multipart (file uploads) is deliberately unsupported. */
async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  const type = String(req.headers['content-type'] ?? '');
  if (!raw) return {};
  if (type.includes('multipart/')) throw badRequest('multipart uploads are not supported by the fake Telegram server');
  if (type.includes('application/x-www-form-urlencoded')) return fromSearch(new URLSearchParams(raw));
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badRequest('request body is not valid JSON');
  }
  return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
}

/** Starts a fake Telegram Bot API server on 127.0.0.1 with a free port. */
export async function startFakeTelegram(opts: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const fake = new FakeTelegramServer(opts.token ?? '7000000001:charbridge-fake-token', opts);
  await fake.listen();
  return fake;
}
