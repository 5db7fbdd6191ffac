/**
 * The Web API half of the fake Slack: `POST /api/<method>` with Slack's auth rules, error
 * codes, rate limits and a message store that reflects posts, edits and streams, so a test
 * can assert on what a user would finally see in a channel or thread.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { nextTs, type SlackIdentity } from './slack-events.js';
import { RateLimiter, type RateLimit } from './slack-limits.js';

/** One Web API request as the fake saw it; `status` is the HTTP status (200, or 429 when rate limited). */
export interface ApiCall {
  method: string;
  /** Parsed arguments without the token; JSON-encoded form values (blocks, chunks, …) are decoded. */
  params: Record<string, unknown>;
  token: string | undefined;
  at: number;
  status: number;
  /** The `error` code when Slack would answer `ok:false` (including `ratelimited`). */
  error?: string;
}

/** A user as `users.info` returns it; `setUser` patches these per test (admins, owners, time zones). */
export interface SlackUser {
  id: string;
  name: string;
  real_name: string;
  is_admin: boolean;
  is_owner: boolean;
  is_bot: boolean;
  tz: string;
  tz_offset: number;
  deleted: boolean;
}

/** What a user would see for one bot message, after every edit and stream append (and its metadata, which Slack shows only to apps that ask). */
export interface MessageView {
  ts: string;
  text: string;
  thread_ts?: string;
  user: string;
  bot_id: string;
  /** How many chat.update calls changed it. */
  updates: number;
  /** How many chat.appendStream calls (plus a stopStream carrying text) extended it. */
  appends: number;
  /** Set for messages created by chat.startStream: `open` until chat.stopStream (or the user) ends it. */
  stream?: 'open' | 'stopped';
  /** `{event_type, event_payload}` the message was posted (or its stream stopped) with. */
  metadata?: Params;
}

interface StoredMessage extends MessageView {
  channel: string;
  streamMode?: 'text' | 'chunks';
  startedAt: number;
  stoppedByUser?: boolean;
}

export interface WebApiOptions {
  identity: SlackIdentity;
  botToken: string;
  appToken: string;
  limits: Record<string, RateLimit>;
  now: () => number;
  streamingSupported: boolean;
  /** Streams older than this refuse appends with `message_not_in_streaming_state` (Slack ends them after ~5 min). */
  streamLifetimeMs: number | undefined;
  /** Issues a one-time Socket Mode URL for apps.connections.open. */
  socketUrl: () => string;
}

type Params = Record<string, unknown>;
export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: Params;
}

class ApiError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** Form values Slack clients JSON-encode (the WebClient does this for any non-scalar argument). */
const JSON_KEYS = new Set(['blocks', 'attachments', 'chunks', 'metadata', 'unfurls']);
const STREAM_METHODS = new Set(['chat.startStream', 'chat.appendStream', 'chat.stopStream']);
/** Slack: "messages longer than 40,000 characters are refused" for chat.postMessage / chat.update. */
const MAX_TEXT = 40_000;
/** Slack: markdown_text on the streaming methods is limited to 12,000 characters per call. */
const MAX_STREAM_TEXT = 12_000;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export class FakeWebApi {
  readonly calls: ApiCall[] = [];
  tooManyRequests = 0;
  readonly ephemerals: Array<{ channel: string; user: string; text: string; message_ts: string }> = [];
  private readonly messages = new Map<string, StoredMessage[]>();
  private readonly users = new Map<string, Partial<SlackUser>>();
  private readonly channels = new Map<string, Params>();
  private readonly dmUsers = new Map<string, string>();
  private readonly failures = new Map<string, string[]>();
  /** Retry-After seconds of calls to refuse with 429 next, per method (rateLimitNext). */
  private readonly forced429 = new Map<string, number[]>();
  private readonly limiter: RateLimiter;
  private readonly methods: Record<string, (p: Params) => Params>;

  constructor(private readonly o: WebApiOptions) {
    this.limiter = new RateLimiter(o.limits, o.now);
    const id = o.identity;
    this.methods = {
      'auth.test': () => ({
        url: `https://${id.teamDomain}.slack.com/`,
        team: 'Charbridge Fake',
        user: 'charbridge',
        team_id: id.teamId,
        user_id: id.botUserId,
        bot_id: id.botId,
        is_enterprise_install: false,
      }),
      'apps.connections.open': () => ({ url: o.socketUrl() }),
      'chat.postMessage': (p) => this.postMessage(p),
      'chat.update': (p) => this.update(p),
      'chat.delete': (p) => this.remove(p),
      'chat.postEphemeral': (p) => this.postEphemeral(p),
      'chat.startStream': (p) => this.startStream(p),
      'chat.appendStream': (p) => this.appendStream(p, false),
      'chat.stopStream': (p) => this.appendStream(p, true),
      'conversations.history': (p) => this.history(p),
      'conversations.replies': (p) => this.replies(p),
      'users.info': (p) => ({ user: this.user(str(p.user)) }),
      'conversations.info': (p) => ({ channel: this.channelInfo(this.channelId(p.channel)) }),
      'conversations.open': (p) => {
        const target = str(p.channel) ?? str(p.users)?.split(',')[0];
        if (target === undefined) throw new ApiError('users_list_not_supplied');
        return { channel: { id: this.channelId(target) } };
      },
      'assistant.threads.setStatus': (p) => (this.channelId(p.channel_id), {}),
    };
  }

  /** Answer one request the way Slack would: 200 + `{ok}` for everything except rate limits (429 + Retry-After). */
  handle(method: string, headers: IncomingHttpHeaders, raw: string): ApiResponse {
    let params: Params;
    try {
      params = parseBody(headers['content-type'], raw);
    } catch {
      params = {};
      this.calls.push({ method, params, token: undefined, at: this.o.now(), status: 200, error: 'invalid_json' });
      return { status: 200, headers: {}, body: { ok: false, error: 'invalid_json' } };
    }
    const auth = headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : str(params.token);
    delete params.token;
    const call: ApiCall = { method, params, token, at: this.o.now(), status: 200 };
    this.calls.push(call);
    const fail = (error: string): ApiResponse => {
      call.error = error;
      return { status: 200, headers: {}, body: { ok: false, error } };
    };
    const handler = this.methods[method];
    if (handler === undefined || (STREAM_METHODS.has(method) && !this.o.streamingSupported)) {
      return { status: 200, headers: {}, body: { ok: false, error: (call.error = 'unknown_method'), req_method: method } };
    }
    if (token === undefined) return fail('not_authed');
    const wantApp = method === 'apps.connections.open';
    if (token !== this.o.botToken && token !== this.o.appToken) return fail('invalid_auth');
    if ((token === this.o.appToken) !== wantApp) return fail('not_allowed_token_type');
    const injected = this.failures.get(method)?.shift();
    if (injected !== undefined) return fail(injected);
    const retryAfter = this.forced429.get(method)?.shift() ?? this.limiter.take(method, str(params.channel));
    if (retryAfter > 0) {
      this.tooManyRequests += 1;
      call.status = 429;
      call.error = 'ratelimited';
      return { status: 429, headers: { 'retry-after': String(retryAfter) }, body: { ok: false, error: 'ratelimited' } };
    }
    try {
      return { status: 200, headers: {}, body: { ok: true, ...handler(params) } };
    } catch (err) {
      if (err instanceof ApiError) return fail(err.code);
      throw err;
    }
  }

  /** The next call of `method` is refused with HTTP 429 and `Retry-After`, whatever the limits say. */
  rateLimitNext(method: string, retryAfterSeconds = 1): void {
    const queue = this.forced429.get(method) ?? [];
    queue.push(retryAfterSeconds);
    this.forced429.set(method, queue);
  }

  /** Make the next call(s) of `method` answer `{ok:false, error}` once each, e.g. `internal_error`. */
  failNext(method: string, error: string): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(error);
    this.failures.set(method, queue);
  }

  setUser(userId: string, patch: Partial<Omit<SlackUser, 'id'>>): void {
    this.users.set(userId, { ...this.users.get(userId), ...patch });
  }

  setChannel(channelId: string, patch: Params): void {
    this.channels.set(channelId, { ...this.channels.get(channelId), ...patch });
  }

  /** Without `threadTs`: every bot message in the channel in posting order; with it: the replies in that thread. */
  channelMessages(channel: string, threadTs?: string): MessageView[] {
    const all = this.messages.get(channel) ?? [];
    return all
      .filter((m) => threadTs === undefined || (m.thread_ts === threadTs && m.ts !== threadTs))
      .map(({ ts, text, thread_ts, user, bot_id, updates, appends, stream, metadata }) => ({
        ts, text, user, bot_id, updates, appends,
        ...(thread_ts !== undefined ? { thread_ts } : {}),
        ...(stream !== undefined ? { stream } : {}),
        ...(metadata !== undefined ? { metadata } : {}),
      }));
  }

  /**
   * Messages the bot posted before the test began (a long conversation), outside the rate limits:
   * one a millisecond from `atMs` (default: now), in `threadTs` or at the top.
   */
  seedMessages(channel: string, texts: string[], o: { threadTs?: string | undefined; atMs?: number | undefined } = {}): void {
    const start = o.atMs ?? this.o.now();
    texts.forEach((text, i) => {
      const m = this.store(this.channelId(channel), text, o.threadTs);
      if (o.atMs !== undefined) m.ts = ((start + i) / 1000).toFixed(6);
    });
    // Kept in ts order, as Slack keeps a conversation.
    this.messages.get(this.channelId(channel))?.sort((x, y) => Number(x.ts) - Number(y.ts));
  }

  /** The user pressed "stop" on a streaming reply: later appends answer `stopped_by_user`. */
  stopStreamByUser(channel: string, ts: string): void {
    const m = this.find(channel, ts);
    m.stream = 'stopped';
    m.stoppedByUser = true;
  }

  // ── methods ────────────────────────────────────────────────────────────────

  private postMessage(p: Params): Params {
    const channel = this.channelId(p.channel);
    const text = this.text(p);
    const metadata = this.metadataOf(p);
    const m = this.store(channel, text, str(p.thread_ts));
    if (metadata) m.metadata = metadata;
    return { channel, ts: m.ts, message: this.wire(m) };
  }

  /** Top-level messages of a channel, newest first (the fake stores the bot's messages only). */
  private history(p: Params): Params {
    const channel = this.channelId(p.channel);
    const top = (this.messages.get(channel) ?? []).filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts);
    return this.page(top.reverse(), p);
  }

  /** A thread's replies, oldest first (its parent is a user's message, which the fake does not store). */
  private replies(p: Params): Params {
    const channel = this.channelId(p.channel);
    const ts = str(p.ts);
    if (ts === undefined) throw new ApiError('thread_not_found');
    return this.page((this.messages.get(channel) ?? []).filter((m) => m.thread_ts === ts && m.ts !== ts), p);
  }

  /** `oldest`/`latest` bound the ts (exclusive), `limit` (default 100, at most 999) the count; metadata only when asked for. */
  private page(list: StoredMessage[], p: Params): Params {
    const num = (v: unknown) => (v === undefined ? undefined : Number(v));
    const oldest = num(p.oldest) ?? 0;
    const latest = num(p.latest) ?? Number.POSITIVE_INFINITY;
    const limit = Math.min(999, Math.max(1, num(p.limit) ?? 100));
    const withMeta = p.include_all_metadata === true || p.include_all_metadata === 'true' || p.include_all_metadata === '1';
    const hits = list.filter((m) => Number(m.ts) > oldest && Number(m.ts) < latest);
    const messages = hits.slice(0, limit).map((m) => ({ ...this.wire(m), ...(withMeta && m.metadata ? { metadata: m.metadata } : {}) }));
    return { messages, has_more: hits.length > limit, response_metadata: { next_cursor: '' } };
  }

  private update(p: Params): Params {
    const channel = this.channelId(p.channel);
    const m = this.find(channel, str(p.ts));
    // Measured against live Slack (not documented): editing a message that is still streaming is
    // refused; one Slack has ended (its lifetime is over) is an ordinary message.
    if (m.stream === 'open' && !this.expired(m)) throw new ApiError('streaming_state_conflict');
    m.text = this.text(p);
    m.updates += 1;
    return { channel, ts: m.ts, text: m.text, message: this.wire(m) };
  }

  private remove(p: Params): Params {
    const channel = this.channelId(p.channel);
    const m = this.find(channel, str(p.ts));
    const list = this.messages.get(channel) ?? [];
    list.splice(list.indexOf(m), 1);
    return { channel, ts: m.ts };
  }

  private postEphemeral(p: Params): Params {
    const channel = this.channelId(p.channel);
    const user = str(p.user);
    if (user === undefined) throw new ApiError('user_not_in_channel');
    const message_ts = nextTs(this.o.now());
    this.ephemerals.push({ channel, user, text: this.text(p), message_ts });
    return { message_ts };
  }

  private startStream(p: Params): Params {
    const channel = this.channelId(p.channel);
    const threadTs = str(p.thread_ts);
    if (threadTs === undefined) throw new ApiError('invalid_arguments');
    // Slack requires the recipient when streaming outside a DM.
    if (!channel.startsWith('D')) {
      if (str(p.recipient_user_id) === undefined) throw new ApiError('missing_recipient_user_id');
      if (str(p.recipient_team_id) === undefined) throw new ApiError('missing_recipient_team_id');
    }
    const piece = this.streamPiece(p, undefined);
    const m = this.store(channel, piece.text, threadTs);
    m.stream = 'open';
    if (piece.mode !== undefined) m.streamMode = piece.mode;
    return { channel, ts: m.ts };
  }

  private appendStream(p: Params, stop: boolean): Params {
    const channel = this.channelId(p.channel);
    const m = this.find(channel, str(p.ts));
    if (m.stoppedByUser === true) throw new ApiError('stopped_by_user');
    if (m.stream !== 'open' || this.expired(m)) throw new ApiError('message_not_in_streaming_state');
    const piece = this.streamPiece(p, m);
    const metadata = stop ? this.metadataOf(p) : undefined;
    if (piece.text !== '') {
      m.text += piece.text;
      m.appends += 1;
    }
    m.streamMode ??= piece.mode;
    if (!stop) return { channel, ts: m.ts };
    if (metadata) m.metadata = metadata;
    m.stream = 'stopped';
    return { channel, ts: m.ts, message: this.wire(m) };
  }

  // ── helpers ────────────────────────────────────────────────────────────────

  /** A stream past its lifetime: Slack has ended it. */
  private expired(m: StoredMessage): boolean {
    return this.o.streamLifetimeMs !== undefined && this.o.now() - m.startedAt > this.o.streamLifetimeMs;
  }

  /**
   * Text of one streaming call. Measured against live Slack by others (undocumented): a
   * stream opened with plain `markdown_text` refuses `chunks` later (`streaming_mode_mismatch`).
   */
  private streamPiece(p: Params, m: StoredMessage | undefined): { text: string; mode?: 'text' | 'chunks' } {
    const md = typeof p.markdown_text === 'string' ? p.markdown_text : undefined;
    const chunks = Array.isArray(p.chunks) ? (p.chunks as Params[]) : undefined;
    if (chunks !== undefined && m?.streamMode === 'text') throw new ApiError('streaming_mode_mismatch');
    const parts = [md ?? '', ...(chunks ?? []).filter((c) => c.type === 'markdown_text').map((c) => String(c.text ?? ''))];
    if (parts.some((t) => t.length > MAX_STREAM_TEXT)) throw new ApiError('msg_too_long');
    const mode = chunks !== undefined ? 'chunks' : md !== undefined ? 'text' : undefined;
    return { text: parts.join(''), ...(mode !== undefined ? { mode } : {}) };
  }

  private text(p: Params): string {
    const text = typeof p.text === 'string' ? p.text : undefined;
    if (text === undefined && p.blocks === undefined && p.attachments === undefined) throw new ApiError('no_text');
    if (text !== undefined && text.length > MAX_TEXT) throw new ApiError('msg_too_long');
    return text ?? '';
  }

  /** Channel ids are `C…`/`G…`/`D…`; a user id opens (or reuses) the DM, as chat.postMessage allows. */
  private channelId(value: unknown): string {
    const v = str(value);
    if (v !== undefined && /^[UW][A-Z0-9]+$/.test(v)) {
      const dm = `D${v.slice(1)}`;
      this.dmUsers.set(dm, v);
      return dm;
    }
    if (v === undefined || !/^[CDG][A-Z0-9]+$/.test(v)) throw new ApiError('channel_not_found');
    return v;
  }

  private channelInfo(id: string): Params {
    const kind = id[0];
    return {
      id,
      ...(kind === 'D' ? {} : { name: kind === 'G' ? 'private-room' : 'general' }),
      is_channel: kind === 'C',
      is_group: kind === 'G',
      is_im: kind === 'D',
      is_mpim: false,
      is_private: kind !== 'C',
      is_archived: false,
      is_member: true,
      created: 1_600_000_000,
      ...(kind === 'D' && this.dmUsers.has(id) ? { user: this.dmUsers.get(id) } : {}),
      ...this.channels.get(id),
    };
  }

  private user(id: string | undefined): Params {
    if (id === undefined || !/^[UW][A-Z0-9]+$/.test(id)) throw new ApiError('user_not_found');
    const u: SlackUser = {
      id,
      name: id.toLowerCase(),
      real_name: `User ${id}`,
      is_admin: false,
      is_owner: false,
      is_bot: id === this.o.identity.botUserId,
      tz: 'America/Los_Angeles',
      tz_offset: -28_800,
      deleted: false,
      ...this.users.get(id),
    };
    return { ...u, team_id: this.o.identity.teamId, is_primary_owner: u.is_owner, profile: { real_name: u.real_name, display_name: u.name } };
  }

  private store(channel: string, text: string, threadTs: string | undefined): StoredMessage {
    const { botUserId, botId } = this.o.identity;
    const m: StoredMessage = { channel, ts: nextTs(this.o.now()), text, user: botUserId, bot_id: botId, updates: 0, appends: 0, startedAt: this.o.now() };
    if (threadTs !== undefined) m.thread_ts = threadTs;
    const list = this.messages.get(channel) ?? [];
    list.push(m);
    this.messages.set(channel, list);
    return m;
  }

  /** Slack refuses metadata without an `event_type` and an object `event_payload`. */
  private metadataOf(p: Params): Params | undefined {
    const md = p.metadata;
    if (md === undefined) return undefined;
    const ok = typeof md === 'object' && md !== null && typeof (md as Params).event_type === 'string' && typeof (md as Params).event_payload === 'object';
    if (!ok) throw new ApiError('invalid_metadata_format');
    return md as Params;
  }

  private find(channel: string, ts: string | undefined): StoredMessage {
    const m = (this.messages.get(channel) ?? []).find((x) => x.ts === ts);
    if (m === undefined) throw new ApiError('message_not_found');
    return m;
  }

  /** A message as Slack returns it inside API responses. */
  private wire(m: StoredMessage): Params {
    return {
      type: 'message',
      text: m.text,
      user: m.user,
      bot_id: m.bot_id,
      app_id: this.o.identity.appId,
      team: this.o.identity.teamId,
      ts: m.ts,
      ...(m.thread_ts !== undefined ? { thread_ts: m.thread_ts } : {}),
    };
  }
}

/** Slack accepts form bodies (what the WebClient sends, nested values JSON-encoded) and JSON bodies. */
function parseBody(contentType: string | undefined, raw: string): Params {
  if (contentType?.includes('application/json') === true) {
    const parsed: unknown = raw === '' ? {} : JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? { ...(parsed as Params) } : {};
  }
  const out: Params = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    if (JSON_KEYS.has(k)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        // keep the raw string: Slack would answer invalid_blocks etc., the test sees the input
      }
    }
    out[k] = v;
  }
  return out;
}
