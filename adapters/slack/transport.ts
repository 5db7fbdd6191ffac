/**
 * The only file that imports @slack/bolt. Everything else in the adapter sees this narrow
 * surface: message events and slash commands coming in (Socket Mode or HTTP), a handful of Web
 * API calls going out, and a classifier for Slack's errors.
 *
 * Things Bolt does that this file works around, learned against the fake:
 * - Given a token without `botId`/`botUserId`, `new App()` calls auth.test in its constructor and
 *   retries for ~30 minutes if Slack is unreachable. So `start()` calls auth.test itself (with
 *   our retry policy, failing start-up clearly) and builds the App with the ids.
 * - The WebClient would wait out a 429 on its own, holding the call invisibly. Here it rejects
 *   rate-limited calls instead, and the adapter's outbound budget waits, per channel, in order.
 * - `retryConfig` is always explicit: the default retries network errors for half an hour.
 * - Its `fetch` is Node's built-in one unless given ours (`src/core/http-fetch.ts`), which costs
 *   less CPU per call.
 * - Socket Mode's `apps.connections.open` uses its own WebClient: it needs `slackApiUrl` through
 *   `installerOptions.clientOptions`, or it talks to the real Slack.
 * - In HTTP mode Bolt's receivers want their own port; ours (receiver.ts) is mounted into our
 *   HTTP server instead, and Bolt's are never evaluated (see loadBolt).
 */
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import type { App, Logger, LogLevel as LogLevels, SocketModeReceiver, verifySlackRequest as VerifySlackRequest, webApi } from '@slack/bolt';
import type { Log } from '../../src/core/adapter.js';
import type { Network } from '../../src/core/network.js';
import { keepAliveFetch } from '../../src/core/http-fetch.js';
import type { TransportEvents } from '../shared/status.js';
import type { SignedHttpReceiver } from './receiver.js';

/**
 * What a reply's message says of itself in its metadata: which answer (`key`, the answered
 * event's id or the proactive message's), and which part of it — `part` of the messages posted
 * from character `from` of the text on, or, for a natively streamed message, `upTo`, how much of
 * the text it ended with. A reply sent again after a crash finds them by it.
 */
export interface ReplyTag {
  key: string;
  from?: number;
  part?: number;
  upTo?: number;
}

export interface TaggedMessage {
  ts: string;
  text: string;
  tag: ReplyTag;
}

/** A message of the bot's with no reply tag (a notice, or a native stream not stopped yet). */
export interface UntaggedMessage {
  ts: string;
  text: string;
}

const REPLY_EVENT_TYPE = 'charbridge_reply';

function metadataOf(tag: ReplyTag | undefined): { metadata?: { event_type: string; event_payload: Record<string, string | number> } } {
  return tag ? { metadata: { event_type: REPLY_EVENT_TYPE, event_payload: { ...tag } } } : {};
}

/**
 * Bolt, loaded piece by piece. Its index also loads the Express and Lambda receivers, and App.js
 * loads both of its own receivers up front: the Socket Mode one brings @slack/socket-mode and
 * undici, the HTTP one @slack/oauth and jsonwebtoken, about 20 MiB resident together. HTTP mode
 * uses neither (receiver.ts is ours), so the two are put in require's cache as stand-ins that
 * load the real module the first time App or Socket Mode touches them.
 */
const bolt = loadBolt();

function loadBolt() {
  const index = createRequire(import.meta.url).resolve('@slack/bolt');
  const fromBolt = createRequire(index);
  for (const name of ['HTTPReceiver', 'SocketModeReceiver']) loadOnFirstUse(fromBolt, join(dirname(index), 'receivers', `${name}.js`));
  return {
    App: (fromBolt('./App.js') as { default: typeof App }).default,
    loadSocketModeReceiver: () => (fromBolt('./receivers/SocketModeReceiver.js') as { default: typeof SocketModeReceiver }).default,
    verifySlackRequest: (fromBolt('./receivers/verify-request.js') as { verifySlackRequest: typeof VerifySlackRequest }).verifySlackRequest,
    LogLevel: (fromBolt('@slack/logger') as { LogLevel: typeof LogLevels }).LogLevel,
    webApi: fromBolt('@slack/web-api') as typeof webApi,
  };
}

/** A CommonJS module (exporting `default`, as Bolt's receivers do) evaluated when `default` is first read. */
function loadOnFirstUse(require: NodeJS.Require, path: string): void {
  if (require.cache[path]) return;
  let real: { default: unknown } | undefined;
  const standIn = new Module(path);
  standIn.filename = path;
  standIn.loaded = true;
  standIn.exports = {
    __esModule: true,
    get default() {
      if (!real) {
        if (require.cache[path] === standIn) delete require.cache[path];
        real = require(path) as { default: unknown };
      }
      return real.default;
    },
  };
  require.cache[path] = standIn;
}

const { LogLevel } = bolt;

/** Bolt's Socket Mode receiver class (evaluating it, with @slack/socket-mode, on first call). */
export const { loadSocketModeReceiver } = bolt;

/** Bolt's v0 request signature check, for our own HTTP receiver (receiver.ts). */
export const verifySlackRequest = bolt.verifySlackRequest;

/** The fields of a `message` / `app_mention` event that inbound.ts reads. */
export interface SlackMessageEvent {
  type: string;
  channel: string;
  channel_type?: string;
  user?: string;
  bot_id?: string;
  subtype?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  team?: string;
  files?: unknown[];
}

/** The fields of a slash command that the adapter reads. */
export interface SlackCommand {
  command: string;
  text: string;
  user_id: string;
  user_name?: string;
  channel_id: string;
  team_id?: string;
  trigger_id: string;
}

/** Answer a slash command through its response_url. */
export type RespondFn = (msg: { text: string; response_type: 'ephemeral' | 'in_channel' }) => Promise<void>;

export interface TransportHandlers {
  /**
   * A message or mention arrived; `teamId` is the workspace the event was delivered for. Resolves
   * once it is accepted (the engine has it on disk) or ignored; Slack is answered only then, and
   * a rejection leaves the delivery unacknowledged, so Slack sends it again.
   */
  onMessage(event: SlackMessageEvent, meta: { teamId: string | undefined; retryNum: number | undefined }): Promise<unknown>;
  /** The slash command was used; it is already acknowledged. */
  onCommand(cmd: SlackCommand, respond: RespondFn): void;
}

export interface RetryPolicy {
  retries: number;
  factor?: number;
  minTimeout?: number;
  maxTimeout?: number;
}

export interface TransportOptions {
  botToken: string;
  /** `xapp-…`: Socket Mode. Without it, HTTP mode through `httpReceiver`. */
  appToken?: string | undefined;
  /** HTTP mode: the receiver mounted on our HTTP server (receiver.ts). */
  httpReceiver?: SignedHttpReceiver | undefined;
  /** Web API base, e.g. `http://127.0.0.1:PORT/api/` (the fake); Slack's own when unset. */
  apiUrl?: string | undefined;
  command: string;
  log: Log;
  retryConfig?: RetryPolicy | undefined;
  /** Socket Mode ping timeout (ms); also paces reconnects. Bolt's default is 5000. */
  clientPingTimeout?: number | undefined;
  /** Told when the socket (or the HTTP route) starts and stops receiving, and about listener failures. */
  events?: TransportEvents | undefined;
  /** Web API calls and the Socket Mode connection through the proxy when one applies. */
  network?: Network | undefined;
}

export interface SlackUserInfo {
  name: string;
  isAdmin: boolean;
  isBot: boolean;
}

export interface BotIdentity {
  botUserId: string;
  botId: string;
  teamId: string;
}

/**
 * Bolt acknowledges an Events API delivery before its listeners run. Ours resolve once the
 * message is on disk, so the receiver's acknowledgement is held until they have: a crash in
 * between leaves the delivery unacknowledged for Slack to send again, instead of acknowledged
 * and lost. The first response any listener gave (a slash command's `ack(body)`) is kept.
 */
function acknowledgeAfterListeners(receiver: { init(app: App): void }): void {
  const init = receiver.init.bind(receiver);
  receiver.init = (app: App) => {
    const held = {
      processEvent: async (event: Parameters<App['processEvent']>[0]) => {
        let response: { body: unknown } | undefined;
        await app.processEvent({ ...event, ack: async (body?: unknown) => void (response ??= { body }) });
        await event.ack(response?.body as never);
      },
    };
    init(held as unknown as App);
  };
}

/** Network blips: a few quick retries, never Bolt's default half hour. */
const DEFAULT_RETRY: RetryPolicy = { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5000 };

/** `http://host:port` → `http://host:port/api/`; a given path keeps its trailing slash. */
export function normalizeApiUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/api/';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.toString();
}

export class SlackTransport {
  readonly mode: 'socket' | 'http';
  readonly receiver: SignedHttpReceiver | undefined;
  private readonly client: webApi.WebClient;
  private readonly clientOptions: webApi.WebClientOptions;
  private readonly logger: Logger;
  private app: App | undefined;
  private me: BotIdentity | undefined;

  constructor(
    private readonly opts: TransportOptions,
    private readonly handlers: TransportHandlers,
  ) {
    this.logger = boltLogger(opts.log);
    this.clientOptions = {
      logger: this.logger,
      rejectRateLimitedCalls: true,
      fetch: (opts.network?.fetch ?? keepAliveFetch) as unknown as webApi.FetchFunction,
      retryConfig: { ...(opts.retryConfig ?? DEFAULT_RETRY) },
      ...(opts.apiUrl ? { slackApiUrl: normalizeApiUrl(opts.apiUrl) } : {}),
    };
    this.client = new bolt.webApi.WebClient(opts.botToken, this.clientOptions);
    this.mode = opts.appToken ? 'socket' : 'http';
    if (this.mode === 'http') {
      if (!opts.httpReceiver) throw new Error('Slack HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)');
      this.receiver = opts.httpReceiver;
    }
  }

  /** Who we are (auth.test, once): the bot user id mentions use, and the workspace. */
  async identity(): Promise<BotIdentity> {
    if (!this.me) {
      const r = await this.client.auth.test();
      if (!r.user_id || !r.team_id) throw new Error('Slack auth.test returned no user_id/team_id');
      this.me = { botUserId: r.user_id, botId: r.bot_id ?? '', teamId: r.team_id };
    }
    return this.me;
  }

  /** Build the Bolt App and start receiving (connect the socket, or open the HTTP route). */
  async start(): Promise<BotIdentity> {
    const me = await this.identity();
    const events = this.opts.events;
    let receiver: SignedHttpReceiver | SocketModeReceiver | undefined = this.receiver;
    if (!receiver) {
      const socket = new (loadSocketModeReceiver())({
        appToken: this.opts.appToken as string,
        logger: this.logger,
        ...(this.opts.network?.dispatcher ? { dispatcher: this.opts.network.dispatcher } : {}),
        ...(this.opts.clientPingTimeout ? { clientPingTimeout: this.opts.clientPingTimeout } : {}),
        installerOptions: { clientOptions: { ...this.clientOptions } },
      });
      socket.client.on('connected', () => events?.connected());
      socket.client.on('reconnecting', () => events?.disconnected());
      socket.client.on('disconnected', () => events?.disconnected());
      receiver = socket;
    }
    acknowledgeAfterListeners(receiver);
    const app = new bolt.App({
      token: this.opts.botToken,
      botId: me.botId,
      botUserId: me.botUserId,
      receiver,
      logger: this.logger,
      convoStore: false,
      clientOptions: { ...this.clientOptions },
    });
    this.listen(app);
    await app.start();
    this.app = app;
    if (this.mode === 'http') events?.connected();
    return me;
  }

  /** Stop receiving. Web API calls keep working, so in-flight replies can finish. */
  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    this.opts.events?.disconnected();
    if (app) await app.stop();
  }

  private listen(app: App): void {
    const meta = (body: unknown, retryNum: number | undefined) => {
      const team = (body as { team_id?: unknown }).team_id;
      return { teamId: typeof team === 'string' ? team : undefined, retryNum };
    };
    // Listeners wait only until the message is accepted (claimed), never for its reply, which is
    // delivered outside Bolt: the acknowledgement waits for them (acknowledgeAfterListeners).
    app.event('app_mention', async ({ event, body, context }) => {
      await this.handlers.onMessage(event as unknown as SlackMessageEvent, meta(body, context.retryNum));
    });
    app.message(async ({ message, body, context }) => {
      await this.handlers.onMessage(message as unknown as SlackMessageEvent, meta(body, context.retryNum));
    });
    app.command(this.opts.command, async ({ command, ack, respond }) => {
      await ack();
      this.handlers.onCommand(command as SlackCommand, async (m) => {
        await respond(m);
      });
    });
    // Rethrown, so the delivery is not acknowledged and Slack retries it (HTTP: a 500).
    app.error(async (err) => {
      this.opts.events?.failed(err);
      this.opts.log.error({ err }, 'slack listener failed; the delivery is not acknowledged, so Slack sends it again');
      throw err;
    });
  }

  /** `tag` travels as the message's metadata, so `taggedReplies` can find the message again. */
  async postMessage(a: { channel: string; text: string; threadTs?: string | undefined; tag?: ReplyTag | undefined }): Promise<string> {
    const r = await this.client.chat.postMessage({ channel: a.channel, text: a.text, ...(a.threadTs ? { thread_ts: a.threadTs } : {}), ...metadataOf(a.tag) });
    if (!r.ts) throw new Error('chat.postMessage returned no ts');
    return r.ts;
  }

  /**
   * The bot's messages since `oldestMs` in a thread (or, without `threadTs`, at the top of a
   * channel) whose tag has this `key`, and (`untagged`) the bot's messages there with no reply
   * tag at all: a native stream shows none until it stops. One Tier 3 call; Slack returns
   * metadata only when asked.
   */
  async taggedReplies(a: { channel: string; threadTs?: string | undefined; key: string; oldestMs: number }): Promise<{ tagged: TaggedMessage[]; untagged: UntaggedMessage[] }> {
    const oldest = (a.oldestMs / 1000).toFixed(6);
    const base = { channel: a.channel, oldest, limit: 200, include_all_metadata: true };
    const r = a.threadTs ? await this.client.conversations.replies({ ...base, ts: a.threadTs }) : await this.client.conversations.history(base);
    const me = this.me;
    const tagged: TaggedMessage[] = [];
    const untagged: UntaggedMessage[] = [];
    for (const m of (r.messages ?? []) as Array<{ ts?: string; text?: string; user?: string; bot_id?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }>) {
      const p = m.metadata?.event_type === REPLY_EVENT_TYPE ? m.metadata.event_payload : undefined;
      if (m.ts && !p && me && (m.user === me.botUserId || (me.botId !== '' && m.bot_id === me.botId))) untagged.push({ ts: m.ts, text: m.text ?? '' });
      if (!m.ts || p?.key !== a.key) continue;
      tagged.push({ ts: m.ts, text: m.text ?? '', tag: { key: a.key, ...(typeof p.from === 'number' ? { from: p.from } : {}), ...(typeof p.part === 'number' ? { part: p.part } : {}), ...(typeof p.upTo === 'number' ? { upTo: p.upTo } : {}) } });
    }
    return { tagged, untagged };
  }

  async update(a: { channel: string; ts: string; text: string }): Promise<void> {
    await this.client.chat.update({ channel: a.channel, ts: a.ts, text: a.text });
  }

  async postEphemeral(a: { channel: string; user: string; text: string; threadTs?: string | undefined }): Promise<void> {
    await this.client.chat.postEphemeral({ channel: a.channel, user: a.user, text: a.text, ...(a.threadTs ? { thread_ts: a.threadTs } : {}) });
  }

  /** Native streaming (Slack 2025): a message in a thread that grows with appendStream. */
  async startStream(a: { channel: string; threadTs: string; markdown: string; recipientUserId?: string | undefined; recipientTeamId?: string | undefined }): Promise<string> {
    const r = await this.client.chat.startStream({
      channel: a.channel,
      thread_ts: a.threadTs,
      markdown_text: a.markdown,
      ...(a.recipientUserId ? { recipient_user_id: a.recipientUserId } : {}),
      ...(a.recipientTeamId ? { recipient_team_id: a.recipientTeamId } : {}),
    });
    if (!r.ts) throw new Error('chat.startStream returned no ts');
    return r.ts;
  }

  async appendStream(a: { channel: string; ts: string; markdown: string }): Promise<void> {
    await this.client.chat.appendStream({ channel: a.channel, ts: a.ts, markdown_text: a.markdown });
  }

  async stopStream(a: { channel: string; ts: string; markdown?: string | undefined; tag?: ReplyTag | undefined }): Promise<void> {
    await this.client.chat.stopStream({ channel: a.channel, ts: a.ts, ...(a.markdown ? { markdown_text: a.markdown } : {}), ...metadataOf(a.tag) });
  }

  async userInfo(userId: string): Promise<SlackUserInfo> {
    const u = (await this.client.users.info({ user: userId })).user;
    return {
      name: u?.profile?.display_name || u?.real_name || u?.name || '',
      isAdmin: Boolean(u?.is_admin || u?.is_owner || u?.is_primary_owner),
      isBot: Boolean(u?.is_bot),
    };
  }
}

/** Slack's error code (`unknown_method`, `message_not_found`, …) when `err` is a Web API answer. */
export function slackErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; data?: { error?: unknown } };
  if (e.code === bolt.webApi.ErrorCode.RateLimitedError) return 'ratelimited';
  return e.code === bolt.webApi.ErrorCode.PlatformError && typeof e.data?.error === 'string' ? e.data.error : undefined;
}

/** How long Slack asked us to wait, when `err` is its 429 answer; otherwise undefined. */
export function retryAfterMs(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; retryAfter?: unknown };
  if (e.code !== bolt.webApi.ErrorCode.RateLimitedError) return undefined;
  const s = Number(e.retryAfter);
  return Math.max(1, Number.isFinite(s) ? s : 1) * 1000;
}

/** Bolt and its WebClient log through ours (pino), so secrets scrubbing and levels apply. */
function boltLogger(log: Log): Logger {
  const child = log.child?.({ component: 'slack-sdk' }) ?? log;
  let level = LogLevel.INFO;
  const text = (parts: unknown[]) =>
    parts
      .map((p) => {
        if (typeof p === 'string') return p;
        if (p instanceof Error) return p.message;
        try {
          return JSON.stringify(p);
        } catch {
          return String(p);
        }
      })
      .join(' ');
  // Socket Mode logs every frame whole at debug level: user messages do not belong in our logs.
  const frame = /^(Received a message on the WebSocket|Sending a WebSocket message)/;
  return {
    debug: (...m: unknown[]) => {
      const line = text(m);
      if (!frame.test(line)) child.debug(line);
    },
    info: (...m: unknown[]) => child.info(text(m)),
    warn: (...m: unknown[]) => child.warn(text(m)),
    error: (...m: unknown[]) => child.error(text(m)),
    setLevel: (l: LogLevels) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}
