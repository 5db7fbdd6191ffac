/**
 * A local Discord for tests: REST (`/api/v10/...`) over node:http and the gateway over `ws`, on
 * ONE port of 127.0.0.1, driven by the REAL discord.js client so tests exercise its own REST
 * queue, rate-limit handling, gateway state machine and resume logic:
 *
 *   const fake = await startFakeDiscord();
 *   const client = new Client({ intents: [Guilds, GuildMessages, MessageContent, DirectMessages],
 *     partials: [Partials.Channel], rest: { api: fake.restApi } });
 *   await client.login(fake.token);
 *
 * See /work/shared/design/PLATFORM-FAKES.md ("Discord") and the module docs of
 * discord-rest.ts, discord-gateway.ts, discord-ratelimit.ts, discord-shards.ts and discord-world.ts.
 *
 * discord.js 14.28 behaviours checked against this fake (test/fakes/discord.test.ts):
 * - Disallowed intents: the gateway closes with 4014; `client.login()` REJECTS with a plain
 *   `Error('Used disallowed intents')` (no `code` property), after the client emitted
 *   `shardError` (same error) and `shardDisconnect` ({code: 4014}). The client is destroyed and
 *   does not retry. Our adapter must catch login() and turn this into a start-up error naming
 *   the Message Content intent. (On real Discord 4014 means "a privileged intent you asked for
 *   is not enabled in the developer portal"; the fake does the same: with
 *   `privilegedIntentsEnabled: false`, an IDENTIFY asking for MessageContent, GuildMembers or
 *   GuildPresences is refused.) A wrong token fails earlier: GET /gateway/bot → 401 and
 *   login() rejects with DiscordjsError code 'TokenInvalid'.
 * - Resume: any close code the client does not treat as fatal (4000 here) makes it reconnect
 *   ~500 ms later to `resume_gateway_url` and send op 6 with the last seq it saw; it emits
 *   `shardResume`, and events dispatched while it was away are replayed to it.
 * - Duplicate MESSAGE_CREATE (same message id, replayed on resume): discord.js emits
 *   `messageCreate` again ONLY when the message is no longer in its message cache
 *   (MessageCreateAction returns early for a cached message not authored by the bot). With
 *   the default cache the duplicate is visible on the `raw` event only; with
 *   `makeCache: Options.cacheWithLimits({ MessageManager: 0 })` it is emitted twice. So a
 *   dedupe by message id is still needed: caches get swept and restarts lose them.
 * - REST rate limits: discord.js paces itself from X-RateLimit-Remaining/-Reset-After (it never
 *   reads X-RateLimit-Reset) plus a 50 ms offset, so a burst larger than a bucket is queued and
 *   delivered without any 429. An unexpected 429 is retried transparently (after
 *   Reset-After when Remaining is 0, else Retry-After; a global one after Retry-After) and the
 *   promise resolves normally. 429 retries are NOT counted against `retries` (that is for 5xx
 *   and network errors), so a 429 storm delays a send indefinitely instead of failing it.
 * - Shutdown: after any resumable close discord.js reconnects every 500 ms, and a
 *   `client.destroy()` that lands in that back-off does not cancel the pending reconnect; the
 *   fake's close() refuses such stragglers with the fatal 4004 so test processes still exit.
 * - DMs: Discord's MESSAGE_CREATE carries `channel_type`; without it (or `recipients`)
 *   discord.js 14.28 cannot build the partial DM channel and silently drops the message, so
 *   the fake always sends `channel_type`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_LIMITS, RateLimiter, type FakeDiscordLimits, type Forced429, type RateLimit } from './discord-ratelimit.js';
import { createRestHandler, type RestCall } from './discord-rest.js';
import { FakeGateway, type GatewayLogEntry, type GatewaySession } from './discord-gateway.js';
import { IdentifyLimiter, recommendedShards, shardOf, type ShardRules } from './discord-shards.js';
import {
  ChannelTypes, DEFAULT_MEMBER_PERMISSIONS, DiscordWorld, Intents, PRIVILEGED_INTENTS, memberObject, nextSnowflake, snowflakeOnShard, userObject,
  type InteractionState,
} from './discord-world.js';

export type { FakeDiscordLimits, Forced429, RateLimit, RestCall, GatewayLogEntry };

export interface FakeDiscordOptions {
  /** Bot token expected in `Authorization: Bot <token>` and in IDENTIFY. Default 'fake-discord-bot-token'. */
  token?: string;
  /** Default 'charbridge-bot'. */
  botUsername?: string;
  /** false → IDENTIFY asking for a privileged intent (MessageContent, …) is closed with 4014. Default true. */
  privilegedIntentsEnabled?: boolean;
  /** Per-route REST limits, merged over Discord-like defaults; scale windows down in tests. */
  limits?: Partial<FakeDiscordLimits>;
  /** Clock for rate-limit windows, timestamps and interaction deadlines. Default Date.now. */
  now?: () => number;
  /** HELLO heartbeat_interval in ms. Default 41250 (Discord's). */
  heartbeatIntervalMs?: number;
  /** 'ceil' (Discord: whole seconds) or 'exact' (decimals) for the Retry-After header. Default 'ceil'. */
  retryAfterHeader?: 'ceil' | 'exact';
  /**
   * Dispatch MESSAGE_CREATE / MESSAGE_UPDATE for messages the bot (or its webhooks) creates or
   * edits over REST, as Discord does — so code under test must ignore its own messages. Default true.
   */
  echoOwnMessages?: boolean;
  /** Interaction callbacks later than this get 404 "Unknown interaction" (10062). Default 3000 ms. */
  interactionDeadlineMs?: number;
  /**
   * Sharding (see discord-shards.ts): session starts per `identifyWindowMs` per bucket (Discord:
   * max_concurrency 1 per 5000 ms; scale the window down in tests) and the guilds one shard may
   * hold before IDENTIFY is closed with 4011 (Discord: 2500).
   */
  shards?: Partial<ShardRules>;
}

export interface UserMessageInput {
  /** Omitted: the guild's first text channel for guild messages, or the author's DM channel. */
  channelId?: string;
  /**
   * Omitted: the guild of `channelId` when it is a known guild channel/thread, else a DM.
   * null: always a DM (the DM channel with the author is created on the fly).
   */
  guildId?: string | null;
  author: { id: string; username: string; bot?: boolean };
  content: string;
  /** Prefix `<@botId> ` to the content (unless already there) and list the bot in `mentions`. */
  mentionsBot?: boolean;
  /** Make this a reply (type 19) to a bot message; the bot is listed in `mentions` (reply ping) unless replyPing is false. */
  replyToBotMessageId?: string;
  replyPing?: boolean;
  /** With `bytes` (and no url), the fake hosts the file on its CDN path, as Discord does for uploads. */
  attachments?: Array<{ url?: string; content_type?: string; filename?: string; size?: number; bytes?: Buffer }>;
}

export interface SlashCommandInput {
  name: string;
  /** Raw API options, e.g. [{ name: 'text', type: 3, value: 'hi' }]; for autocomplete mark one `focused: true`. */
  options?: any[];
  user: { id: string; username: string };
  /** Omitted: the default guild's text channel (or the user's DM channel when guildId is null). */
  channelId?: string;
  /** Omitted: the default guild (or the guild of channelId). null: a bot DM (no member, `user` set). */
  guildId?: string | null;
  /** member.permissions bitfield as a decimal string, e.g. '32' = Manage Guild. Default: a plain member's. */
  permissions?: string;
  /** Send type 4 APPLICATION_COMMAND_AUTOCOMPLETE instead of 2 APPLICATION_COMMAND. */
  autocomplete?: boolean;
}

export interface InteractionResponse {
  /** 'callback' = POST /interactions/:id/:token/callback; 'editOriginal' = PATCH …/messages/@original; 'followup' = POST /webhooks/:app/:token (or a followup edit). */
  kind: 'callback' | 'editOriginal' | 'followup';
  /** Callback type (4 reply, 5 deferred, 6/7 component, 8 autocomplete result, 9 modal); 0 for edits and followups. */
  type: number;
  /** The request body's `data` for callbacks; the request body for edits/followups. */
  data: any;
  /** The message this produced or changed, if any (e.g. @original). */
  message?: any;
}

export interface ChannelMessage {
  id: string;
  content: string;
  edits: number;
  /** Author name: the bot's, or the webhook's (username override) for webhook messages. */
  username?: string;
  authorId: string;
  webhookId?: string;
  avatarUrl?: string;
  replyTo?: string;
  embeds: any[];
  attachments: any[];
}

export interface FakeDiscord {
  /** 'http://127.0.0.1:PORT/api' — discord.js appends /v10. */
  restApi: string;
  token: string;
  bot: { id: string; username: string };
  applicationId: string;
  /** The default guild: one text channel and one public thread in it; ownerId is a non-bot user. */
  guild: { id: string; channelId: string; threadId: string; ownerId: string };
  /** Every REST request (including 401/404/429 ones), oldest first. */
  calls: RestCall[];
  /** How many 429s the fake has answered. */
  readonly tooManyRequests: number;
  /** Gateway frames both ways plus close events (op -1). */
  gatewayLog: GatewayLogEntry[];
  /** A new guild with one text channel; `shard: [id, count]` picks an id whose events go to that shard. */
  addGuild(o?: { shard?: [number, number] }): { id: string; channelId: string };
  /** The shard a guild's events go to with `count` shards. */
  shardOf(guildId: string, count: number): number;
  /** IDENTIFYs answered with op 9 for coming too soon after another of their bucket (should stay 0). */
  readonly identifiesRefused: number;
  /** Sessions started (accepted IDENTIFYs) in order: their shard and when (the fake's clock). */
  identifies(): Array<{ shard: [number, number]; at: number }>;
  /** Dispatch MESSAGE_CREATE from a user (guild or DM); returns the full API message object. */
  userMessage(o: UserMessageInput): any;
  /** Dispatch INTERACTION_CREATE; `acknowledged` resolves with the first callback. */
  slashCommand(o: SlashCommandInput): { id: string; token: string; acknowledged: Promise<InteractionResponse> };
  /** Callbacks, @original edits and followups for that interaction, in order. */
  interactionResponses(token: string): InteractionResponse[];
  /** Messages created over REST in that channel (bot + webhooks; NOT userMessage()s and not interaction replies), current state after edits, deletions removed. */
  channelMessages(channelId: string): ChannelMessage[];
  /** How many times a hosted attachment (a userMessage() file with `bytes`) was downloaded. */
  readonly fileDownloads: number;
  /** Commands stored by PUT/POST applications/:app/commands (or the guild's). */
  registeredCommands(guildId?: string): any[];
  /** The next matching request(s) get a 429 regardless of buckets (see Forced429). */
  force429Next(o?: Forced429): void;
  /** Close the gateway socket(s) with `code` (4000 → client resumes; 1006 → TCP drop). */
  disconnect(code?: number): void;
  /** On the next RESUME replay the last `count` events even if already acknowledged (duplicates). */
  replayOnResume(count: number): void;
  /** op 7: ask the client to reconnect and resume. */
  requestReconnect(): void;
  /** op 9 to live sessions; resumable=false forgets them (client re-identifies). */
  invalidateSession(resumable: boolean): void;
  /** Forget sessions no client is connected to (Discord lets them lapse after some minutes); how many. */
  lapseDisconnectedSessions(): number;
  /** Dispatch any event as-is (no intent filtering) — to its guild's shard when `d.guild_id` is set, else to every session. */
  dispatchRaw(t: string, d: any): void;
  /** Counts of IDENTIFY (op 2) and RESUME (op 6) frames received. */
  gatewayStats(): { identifies: number; resumes: number; liveSockets: number };
  /** Resolve once pred() is true (polled every 10 ms and after every fake event); reject after timeoutMs (default 5000). */
  waitFor(pred: () => boolean, timeoutMs?: number): Promise<void>;
  /**
   * Resolve once every connected client has read everything dispatched to it (confirmed by a
   * heartbeat the fake asks for) and no REST request is in flight: what a test waits for (with
   * the adapter's own `settled()`) before asserting that something did NOT happen.
   */
  idle(timeoutMs?: number): Promise<void>;
  /**
   * Close gateway clients and the HTTP server with its keep-alive sockets; idempotent, never
   * hangs. Destroy discord.js clients first. A client still connected is closed with 4004 (fatal
   * for discord.js) so it does not start an endless 500 ms reconnect loop that `destroy()`
   * cannot always cancel (see discord-gateway.ts).
   */
  close(): Promise<void>;
}

export async function startFakeDiscord(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const now = opts.now ?? Date.now;
  const token = opts.token ?? 'fake-discord-bot-token';
  const limits: FakeDiscordLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const botId = nextSnowflake(); // the bot user id doubles as the application id, as for most bots
  const world = new DiscordWorld(now, token, userObject({ id: botId, username: opts.botUsername ?? 'charbridge-bot', bot: true }), botId);
  const g = world.addGuild();
  const channel = world.addTextChannel(g.id);
  const thread = world.addThread(g.id, channel.id);

  let origin = '';
  const waiters = new Set<() => void>();
  const changed = () => { for (const w of [...waiters]) w(); };
  const stats = { tooManyRequests: 0 };
  const calls: RestCall[] = [];
  const echo = opts.echoOwnMessages ?? true;

  const rules: ShardRules = { maxConcurrency: 1, identifyWindowMs: 5000, maxGuildsPerShard: 2500, ...opts.shards };
  const identifyLimiter = new IdentifyLimiter(rules, now);
  const gateway = new FakeGateway(world, {
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 41250,
    enabledPrivilegedIntents: opts.privilegedIntentsEnabled === false ? 0 : PRIVILEGED_INTENTS,
    origin: () => origin,
    onChange: changed,
    rules,
    identifies: identifyLimiter,
  });

  /**
   * Shape a MESSAGE_CREATE/UPDATE for one session the way Discord does: needs GuildMessages
   * (guild) or DirectMessages (DM); without MessageContent, content/embeds/attachments/components
   * are empty unless it is a DM, mentions the bot, or was written by the bot.
   */
  const shapeMessage = (msg: any) => (s: GatewaySession) => {
    const dm = !msg.guild_id;
    if (!(s.intents & (dm ? Intents.DirectMessages : Intents.GuildMessages))) return null;
    const channelType = world.channels.get(msg.channel_id)?.type ?? (dm ? ChannelTypes.DM : ChannelTypes.GuildText);
    const out = { ...msg, channel_type: channelType };
    const visible = dm || msg.author.id === world.bot.id || msg.mentions.some((u: any) => u.id === world.bot.id);
    if (!(s.intents & Intents.MessageContent) && !visible) Object.assign(out, { content: '', embeds: [], attachments: [], components: [] });
    return out;
  };

  const limiter = new RateLimiter(limits, now, opts.retryAfterHeader ?? 'ceil');
  const rest = createRestHandler({
    world,
    limiter,
    calls,
    stats,
    origin: () => origin,
    onMessageCreate: (msg) => { if (echo) gateway.dispatch('MESSAGE_CREATE', shapeMessage(msg), msg.guild_id ?? null); },
    onMessageUpdate: (msg) => { if (echo) gateway.dispatch('MESSAGE_UPDATE', shapeMessage(msg), msg.guild_id ?? null); },
    onChange: changed,
    interactionDeadlineMs: opts.interactionDeadlineMs ?? 3000,
    interactionTokenLifetimeMs: 15 * 60_000,
    gatewayBot: () => ({ shards: recommendedShards([...world.guilds.keys()], rules.maxGuildsPerShard), maxConcurrency: rules.maxConcurrency }),
  });
  let busy = 0;
  /** Files users "uploaded" (CDN path → bytes), served without auth as Discord's CDN serves them. */
  const hosted = new Map<string, Buffer>();
  let fileDownloads = 0;
  const server = createServer((req, res) => {
    busy++;
    res.once('close', () => {
      busy--;
      changed();
    });
    const file = req.method === 'GET' ? hosted.get(new URL(req.url ?? '/', origin).pathname) : undefined;
    if (file) {
      fileDownloads++;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.length) });
      res.end(file);
      return;
    }
    rest(req, res);
    res.on('finish', changed);
  });
  gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  /** The guild member for `user`, added to the guild on first sight. */
  const ensureMember = (guildId: string, user: ReturnType<typeof userObject>) => {
    const gs = world.mustGuild(guildId);
    let m = gs.members.get(user.id);
    if (!m) gs.members.set(user.id, (m = memberObject(user, world.iso())));
    return m;
  };
  const firstTextChannel = (guildId: string) => {
    const id = world.mustGuild(guildId).channelIds[0];
    if (!id) throw new Error(`fake discord: guild ${guildId} has no text channel`);
    return id;
  };
  const responseView = (it: InteractionState): InteractionResponse[] =>
    it.responses.map((r) => {
      if (r.kind === 'callback') return { kind: r.kind, type: r.type, data: r.data, ...(r.type === 4 || r.type === 5 ? { message: it.original } : {}) };
      const { __message, ...data } = r.data ?? {};
      return { kind: r.kind, type: r.type, data, message: __message };
    });

  let closed: Promise<void> | null = null;
  const fake: FakeDiscord = {
    restApi: `${origin}/api`,
    token,
    bot: { id: world.bot.id, username: world.bot.username },
    applicationId: world.applicationId,
    guild: { id: g.id, channelId: channel.id, threadId: thread.id, ownerId: g.ownerId },
    calls,
    get tooManyRequests() { return stats.tooManyRequests; },
    get fileDownloads() { return fileDownloads; },
    gatewayLog: gateway.log,
    get identifiesRefused() { return identifyLimiter.refused; },

    addGuild(o = {}) {
      const guild = world.addGuild(o.shard ? { id: snowflakeOnShard(o.shard[0], o.shard[1]) } : {});
      return { id: guild.id, channelId: world.addTextChannel(guild.id).id };
    },
    shardOf,
    identifies: () => gateway.started.map((x) => ({ ...x })),

    userMessage(o) {
      const author = userObject(o.author);
      world.knownUsers.set(author.id, author);
      const guildId = o.guildId === null ? null : o.guildId ?? (o.channelId ? world.guildOf(o.channelId) : null);
      const channelId = guildId ? o.channelId ?? firstTextChannel(guildId) : world.dmChannel(author, o.channelId).id;
      const mention = `<@${world.bot.id}>`;
      const content = o.mentionsBot && !o.content.includes(mention) && !o.content.includes(`<@!${world.bot.id}>`) ? `${mention} ${o.content}` : o.content;
      const mentions = o.mentionsBot || (o.replyToBotMessageId && o.replyPing !== false) ? [world.bot] : [];
      const msg = world.message({
        channelId, guildId, author, content, mentions,
        reference: o.replyToBotMessageId ? { message_id: o.replyToBotMessageId, channel_id: channelId } : undefined,
        attachments: (o.attachments ?? []).map((a) => {
          const id = world.snowflake();
          const filename = a.filename ?? (a.url ? new URL(a.url).pathname.split('/').pop() : undefined) ?? 'file';
          let url = a.url ?? '';
          if (a.bytes) {
            const path = `/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
            hosted.set(path, a.bytes);
            url = `${origin}${path}`;
          }
          const size = a.size ?? a.bytes?.length ?? 0;
          return { id, filename, size, url, proxy_url: url, ...(a.content_type ? { content_type: a.content_type } : {}) };
        }),
        member: guildId ? (({ user: _u, ...m }) => m)(ensureMember(guildId, author)) : undefined,
      });
      world.userMessages.set(msg.id, msg);
      const ch = world.channels.get(channelId);
      if (ch) ch.last_message_id = msg.id;
      gateway.dispatch('MESSAGE_CREATE', shapeMessage(msg), guildId);
      return msg;
    },

    slashCommand(o) {
      const user = userObject(o.user);
      world.knownUsers.set(user.id, user);
      const guildId = o.guildId === null ? null : o.guildId ?? (o.channelId ? world.guildOf(o.channelId) : g.id);
      const ch = guildId ? world.channels.get(o.channelId ?? firstTextChannel(guildId)) : world.dmChannel(user, o.channelId);
      if (!ch) throw new Error(`fake discord: unknown channel ${o.channelId}`);
      const cmd = (guildId ? world.guildCommands.get(guildId) : undefined)?.find((c) => c.name === o.name) ??
        world.globalCommands.find((c) => c.name === o.name);
      const id = world.snowflake();
      const itoken = `fake-interaction-${id}-${Math.random().toString(36).slice(2)}`;
      const type = o.autocomplete ? 4 : 2;
      const it: InteractionState = {
        id, token: itoken, type, user, createdAt: now(), channelId: ch.id, guildId, acknowledged: false, original: null, responses: [],
      };
      world.interactions.set(itoken, it);
      const payload: any = {
        id, application_id: world.applicationId, type, token: itoken, version: 1,
        data: { id: cmd?.id ?? world.snowflake(), name: o.name, type: 1, options: o.options ?? [], ...(cmd?.guild_id ? { guild_id: cmd.guild_id } : {}) },
        channel: ch, channel_id: ch.id, locale: 'en-US', entitlements: [], attachment_size_limit: 8 * 1024 * 1024,
        app_permissions: ((1n << 51n) - 1n).toString(),
        authorizing_integration_owners: { 0: guildId ?? '0' }, context: guildId ? 0 : 1,
      };
      if (guildId) {
        payload.guild_id = guildId;
        payload.guild = { id: guildId, locale: 'en-US', features: [] };
        payload.guild_locale = 'en-US';
        payload.member = { ...ensureMember(guildId, user), permissions: o.permissions ?? DEFAULT_MEMBER_PERMISSIONS };
      } else {
        payload.user = user;
      }
      gateway.dispatch('INTERACTION_CREATE', () => payload, guildId);
      const acknowledged = new Promise<InteractionResponse>((resolve) => {
        const check = () => {
          const first = responseView(it).find((r) => r.kind === 'callback');
          if (first) { waiters.delete(check); resolve(first); }
        };
        waiters.add(check);
      });
      return { id, token: itoken, acknowledged };
    },

    interactionResponses(t) {
      const it = world.interactions.get(t);
      return it ? responseView(it) : [];
    },

    channelMessages(channelId) {
      return (world.messages.get(channelId) ?? []).filter((s) => !s.deleted).map(({ msg, edits }) => ({
        id: msg.id, content: msg.content, edits, username: msg.author.username, authorId: msg.author.id,
        ...(msg.webhook_id ? { webhookId: msg.webhook_id } : {}),
        ...(msg.author.avatar_url ? { avatarUrl: msg.author.avatar_url } : {}),
        ...(msg.message_reference ? { replyTo: msg.message_reference.message_id } : {}),
        embeds: msg.embeds, attachments: msg.attachments,
      }));
    },

    registeredCommands(guildId) {
      return guildId ? world.guildCommands.get(guildId) ?? [] : world.globalCommands;
    },

    force429Next: (o) => limiter.force429Next(o),
    disconnect: (code = 4000) => gateway.disconnect(code),
    replayOnResume: (count) => gateway.replayOnResume(count),
    requestReconnect: () => gateway.requestReconnect(),
    invalidateSession: (resumable) => gateway.invalidateSessions(resumable),
    lapseDisconnectedSessions: () => gateway.lapseDisconnectedSessions(),
    dispatchRaw: (t, d) => gateway.dispatch(t, () => d, typeof d?.guild_id === 'string' ? d.guild_id : undefined),
    gatewayStats: () => ({
      identifies: gateway.log.filter((e) => e.dir === 'in' && e.op === 2).length,
      resumes: gateway.log.filter((e) => e.dir === 'in' && e.op === 6).length,
      liveSockets: gateway.wss.clients.size,
    }),

    waitFor(pred, timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          let ok = false;
          try { ok = pred(); } catch { ok = false; }
          if (!ok) return;
          clearInterval(poll); clearTimeout(timer); waiters.delete(check); resolve();
        };
        const poll = setInterval(check, 10);
        const timer = setTimeout(() => {
          clearInterval(poll); waiters.delete(check);
          reject(new Error(`fake discord: waitFor timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },

    idle(timeoutMs = 5000) {
      return fake.waitFor(() => busy === 0 && gateway.caughtUp(), timeoutMs);
    },

    close() {
      closed ??= (async () => {
        waiters.clear();
        await gateway.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
  return fake;
}
