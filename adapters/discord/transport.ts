/**
 * The only file that uses discord.js (./gateway-socket.ts loads it). Everything else in the
 * adapter sees this narrow surface — plain `DcMessage` / `DcInteraction` records in, a handful of
 * REST calls out, and a classifier for Discord's errors — so the rest reads as plain TypeScript
 * and the SDK could be swapped (raw REST + `ws`) by rewriting one file.
 *
 * Things discord.js does that this file relies on or works around, checked against the fake:
 * - REST pacing: discord.js queues requests per route bucket from the X-RateLimit headers and
 *   retries 429s itself (it never rejects with one unless `rejectOnRateLimit` is set), so a 429
 *   costs time, not a message. The outbound budget paces above it so it rarely has to.
 * - Close code 4014 (a privileged intent not enabled in the portal): `login()` rejects with a
 *   plain `Error('Used disallowed intents')` and the client gives up; start-up must fail loudly.
 * - A replayed MESSAGE_CREATE reaches `messageCreate` only once the message has left the message
 *   cache, so dedupe still has to happen downstream (the engine's (platform, event id) claim).
 * - Channel messages go straight through `client.rest` with a channel id: no channel cache
 *   needed (a DM the bot opened before a restart is not in the cache, but its id still works).
 * - Shards: `shards` + `shardCount` go to the Client as they are; `shards: 'auto'` asks Discord
 *   for its recommended count. Identify pacing is @discordjs/ws's `IIdentifyThrottler`: its
 *   default (one IDENTIFY per 5 s per `shard_id % max_concurrency` bucket) only knows this
 *   process, so with several instances `identify` replaces it by a gate they share. Close codes
 *   4010 (invalid shard) and 4011 (sharding required) are fatal: `login()` rejects.
 */
import type {
  AutocompleteInteraction, ChatInputCommandInteraction, Client as DiscordClient, ClientOptions, CommandInteractionOption, Message,
} from 'discord.js';
import { discordJs, gatewayProxyInstalled, withGatewayAgent } from './gateway-socket.js';
import type { IdentifyGate, Log } from '../../src/core/adapter.js';
import type { Network } from '../../src/core/network.js';
import { ConfigError } from '../../src/core/errors.js';
import type { TransportEvents } from '../shared/status.js';

const {
  ApplicationCommandOptionType, Client, DiscordAPIError, Events, GatewayIntentBits, MessageFlags, Options, Partials, PermissionFlagsBits, RateLimitError, Routes,
} = discordJs;

/** Where a message or interaction happened. Threads report their parent channel too. */
export interface DcPlace {
  channelId: string;
  guildId: string | null;
  channelKind: 'dm' | 'text' | 'thread';
  parentId: string | null;
}

/** The parts of a discord.js Message that inbound.ts reads. */
export interface DcMessage extends DcPlace {
  id: string;
  author: { id: string; name: string; bot: boolean };
  webhookId: string | null;
  /** Joins, pins, thread-created notices and other service messages. */
  system: boolean;
  content: string;
  /** The bot (or its managed role) is mentioned, including by a reply ping. */
  mentionsBot: boolean;
  /** The bot's managed role in this guild, whose `<@&id>` mention addresses the bot too. */
  botRoleId: string | null;
  /** Author of the message this one replies to, when it is a reply. */
  repliedToUserId: string | null;
  attachments: Array<{ url: string; contentType: string | null; name: string; size: number }>;
  hasStickers: boolean;
  /** The member holds Manage Server (or Administrator, or owns the server). */
  memberIsAdmin: boolean;
  raw: unknown;
}

/** A slash command as the adapter needs it, with the response calls bound to it. */
export interface DcCommand extends DcPlace {
  type: 'command';
  id: string;
  name: string;
  subcommand: string | null;
  options: Record<string, string | number | boolean>;
  user: { id: string; name: string };
  memberIsAdmin: boolean;
  reply(text: string, ephemeral: boolean): Promise<void>;
  defer(ephemeral: boolean): Promise<void>;
  /** Edit the original response (default) or a followup; returns the message id. */
  editReply(text: string, messageId?: string): Promise<string>;
  followUp(text: string, ephemeral: boolean): Promise<string>;
}

/** Autocomplete of one option while the user types. */
export interface DcAutocomplete {
  type: 'autocomplete';
  name: string;
  subcommand: string | null;
  focused: { name: string; value: string };
  respond(choices: Array<{ name: string; value: string }>): Promise<void>;
}

export type DcInteraction = DcCommand | DcAutocomplete;

/** A channel webhook we may speak through (per-character names and avatars). */
export interface DcWebhook {
  id: string;
  token: string;
  name: string;
}

export interface BotInfo {
  id: string;
  username: string;
  applicationId: string;
}

/** What went wrong with a REST call, in the terms the adapter acts on. */
export type DiscordErrorKind = 'rate-limited' | 'unknown-message' | 'unknown-interaction' | 'forbidden' | 'other';

export function discordErrorKind(err: unknown): DiscordErrorKind {
  if (err instanceof RateLimitError) return 'rate-limited';
  if (!(err instanceof DiscordAPIError)) return 'other';
  if (err.status === 429) return 'rate-limited';
  if (err.code === 10008) return 'unknown-message';
  if (err.code === 10062 || err.code === 10015 || err.code === 40060) return 'unknown-interaction';
  if (err.status === 403) return 'forbidden';
  return 'other';
}

/** The wait Discord asked for, when `err` is a rate limit that reached us; otherwise undefined. */
export function retryAfterMs(err: unknown): number | undefined {
  if (err instanceof RateLimitError) return Math.max(1, err.retryAfter);
  if (err instanceof DiscordAPIError && err.status === 429) {
    const s = Number((err.rawError as { retry_after?: unknown }).retry_after ?? 1);
    return Math.max(1, (Number.isFinite(s) ? s : 1) * 1000);
  }
  return undefined;
}

/** Never let model text ping @everyone, roles or users; the replied-to user is still notified. */
const NO_PINGS = { parse: [] as string[], replied_user: true };

export interface TransportOptions {
  token: string;
  /** REST base such as `https://discord.com/api` (discord.js appends `/v10`). */
  api?: string | undefined;
  log: Log;
  /** Messages kept per channel by discord.js; 0 makes every gateway replay visible (tests). */
  messageCacheSize?: number | undefined;
  /** discord.js's own bot-wide request cap (Discord: 50/s); follows the budget's global window. */
  globalPerSecond?: number | undefined;
  /** Told about the gateway connection, failures and the 429s discord.js waits out itself. */
  events?: TransportEvents | undefined;
  /** REST calls, attachment downloads and the gateway's WebSocket through the proxy when one applies. */
  network?: Network | undefined;
  /** The shard ids to run here; undefined: all of `shardCount`. */
  shards?: number[] | undefined;
  /** Total shards over all instances; 'auto': Discord's recommendation (all here); undefined: 1. */
  shardCount?: number | 'auto' | undefined;
  /** When a shard may IDENTIFY, decided with the other instances; undefined: discord.js alone. */
  identify?: IdentifyGate | undefined;
}

export interface TransportHandlers {
  onMessage(m: DcMessage): void;
  onInteraction(i: DcInteraction): void;
  /** Every gateway dispatch as Discord sent it (with its sequence), before discord.js acts on it. */
  onDispatch?(shard: number, packet: { t?: string | null; s?: number | null; d?: unknown }): void;
}

export class DiscordTransport {
  private readonly client: DiscordClient;
  private lastCloseCode: number | undefined;
  /** Shards of this client that are up; the adapter counts as connected when all of them are. */
  private readonly up = new Set<number>();

  constructor(private readonly opts: TransportOptions, handlers: TransportHandlers) {
    const { Guilds, GuildMessages, MessageContent, DirectMessages } = GatewayIntentBits;
    const options: ClientOptions = {
      intents: [Guilds, GuildMessages, MessageContent, DirectMessages],
      partials: [Partials.Channel],
      allowedMentions: { parse: [], repliedUser: true },
      rest: {
        ...(opts.api ? { api: opts.api } : {}),
        ...(opts.globalPerSecond ? { globalRequestsPerSecond: opts.globalPerSecond } : {}),
        // discord.js's REST bundles undici 6, whose types differ from undici 7's; the dispatch contract is the same.
        ...(opts.network?.dispatcher ? { agent: opts.network.dispatcher as unknown as NonNullable<ClientOptions['rest']>['agent'] } : {}),
      },
      ...(opts.messageCacheSize !== undefined
        ? { makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: opts.messageCacheSize }) }
        : {}),
      ...(opts.shardCount === 'auto' ? { shards: 'auto' as const } : {}),
      ...(typeof opts.shardCount === 'number' ? { shardCount: opts.shardCount, shards: opts.shards ?? range(opts.shardCount) } : {}),
      ...(opts.identify ? { ws: { buildIdentifyThrottler: sharedThrottler(opts.identify) } } : {}),
    };
    this.client = new Client(options);
    const log = opts.log;
    const onDispatch = handlers.onDispatch;
    // discord.js emits 'raw' for every dispatch but leaves it out of its typed events.
    if (onDispatch) (this.client as unknown as NodeJS.EventEmitter).on('raw', (packet: { t?: string | null; s?: number | null; d?: unknown }, shard: number) => onDispatch(shard, packet));
    this.client.on(Events.MessageCreate, (m) => {
      try {
        handlers.onMessage(this.toMessage(m));
      } catch (err) {
        log.error({ err, messageId: m.id }, 'discord message handler failed');
      }
    });
    this.client.on(Events.InteractionCreate, (i) => {
      try {
        if (i.isChatInputCommand()) handlers.onInteraction(this.toCommand(i));
        else if (i.isAutocomplete()) handlers.onInteraction(toAutocomplete(i));
      } catch (err) {
        log.error({ err, interactionId: i.id }, 'discord interaction handler failed');
      }
    });
    const events = opts.events;
    const shardUp = (shard: number) => {
      this.up.add(shard);
      const mine = this.client.options.shards;
      if (!Array.isArray(mine) || mine.every((id) => this.up.has(id))) events?.connected();
    };
    this.client.on(Events.ShardReady, shardUp);
    this.client.on(Events.ShardResume, shardUp);
    this.client.on(Events.ShardReconnecting, (shard) => {
      this.up.delete(shard);
      events?.disconnected();
    });
    this.client.rest.on('response', (_request, response) => {
      if (response.status === 429) events?.rateLimited();
    });
    this.client.on(Events.ShardDisconnect, (ev, shard) => {
      this.lastCloseCode = ev.code;
      this.up.delete(shard);
      events?.disconnected(ev.code === 1000 ? undefined : new Error(`discord gateway closed with code ${ev.code}`));
      if (ev.code === 4014) log.error({ code: ev.code, shard }, INTENT_HELP);
      else if (ev.code === 1000) log.debug({ code: ev.code, shard }, 'discord gateway closed');
      else log.warn({ code: ev.code, shard }, 'discord gateway closed');
    });
    this.client.on(Events.ShardResume, (shard, replayed) => log.info({ shard, replayed }, 'discord gateway resumed'));
    this.client.on(Events.ShardError, (err, shard) => {
      events?.failed(err);
      log.warn({ err, shard }, 'discord gateway error');
    });
    this.client.on(Events.Error, (err) => {
      events?.failed(err);
      log.error({ err }, 'discord client error');
    });
  }

  /** Log in over the gateway; resolves once READY and the guilds have arrived. */
  async start(): Promise<BotInfo> {
    const ready = new Promise<void>((resolve) => this.client.once(Events.ClientReady, () => resolve()));
    try {
      const network = this.opts.network;
      let asked = false;
      await withGatewayAgent(network && ((url) => ((asked = true), network.agentFor(url))), () => this.client.login(this.opts.token));
      // With a proxy set, the gateway socket asks for its agent as it opens; one that never asked
      // went around the proxy (discord.js loaded too early, or a version that opens it another way).
      if (network?.dispatcher && !asked) {
        const why = gatewayProxyInstalled ? 'this discord.js opened it without asking for an agent' : 'discord.js was loaded before charbridge could hand its WebSocket the proxy';
        this.opts.log.warn(`Discord's gateway connected directly, not through the proxy: ${why} (REST calls and downloads still use it).`);
      }
    } catch (err) {
      await this.client.destroy().catch(() => undefined);
      throw startupError(err, this.lastCloseCode);
    }
    await ready;
    const user = this.client.user;
    if (!user) throw new Error('discord.js reported ready without a bot user');
    return { id: user.id, username: user.username, applicationId: this.client.application?.id ?? user.id };
  }

  /** The shards this client runs and the total, once logged in. */
  shardInfo(): { shards: number[]; shardCount: number } {
    const { shards, shardCount } = this.client.options;
    return { shards: Array.isArray(shards) ? [...shards] : [], shardCount: shardCount ?? 1 };
  }

  /**
   * Close the gateway and REST. `resumable`: close with 4200, not 1000, so Discord keeps the
   * session and the next process can have it replay what comes meanwhile (discord.js always
   * closes with 1000; its inner manager takes the code).
   */
  async stop(o: { resumable?: boolean } = {}): Promise<void> {
    this.opts.events?.disconnected();
    const inner = (this.client.ws as unknown as { _ws?: { destroy(o: { code: number; reason: string }): Promise<void> } | null })._ws;
    if (o.resumable && inner) await inner.destroy({ code: 4200, reason: 'restarting' }).catch(() => undefined);
    await this.client.destroy();
  }

  /** Replace the application's commands, globally or (instant updates) in each listed guild. */
  async registerCommands(applicationId: string, body: readonly object[], guildIds: string[]): Promise<void> {
    if (guildIds.length === 0) await this.client.rest.put(Routes.applicationCommands(applicationId), { body });
    for (const g of guildIds) await this.client.rest.put(Routes.applicationGuildCommands(applicationId, g), { body });
  }

  /**
   * Post a message. With a `nonce`, Discord creates at most one message per nonce (for a few
   * minutes): a second post returns the first message, whose `content` may then differ from `text`.
   */
  async send(channelId: string, text: string, o: { replyTo?: string | undefined; nonce?: string | undefined } = {}): Promise<{ id: string; content: string }> {
    const body = {
      content: text,
      allowed_mentions: NO_PINGS,
      ...(o.replyTo ? { message_reference: { message_id: o.replyTo, fail_if_not_exists: false } } : {}),
      ...(o.nonce ? { nonce: o.nonce, enforce_nonce: true } : {}),
    };
    const m = (await this.client.rest.post(Routes.channelMessages(channelId), { body })) as { id: string; content?: string };
    return { id: m.id, content: m.content ?? text };
  }

  /**
   * The channel's messages after message `after`, oldest first: one page (100), as `onMessage`
   * gets them. Each REST call goes through `paced` (the adapter's budget).
   */
  async messagesAfter(channelId: string, after: string, paced: <T>(call: () => Promise<T>) => Promise<T> = (call) => call()): Promise<DcMessage[]> {
    const ch = this.client.channels.cache.get(channelId) ?? (await paced(() => this.client.channels.fetch(channelId)));
    if (!ch || !ch.isTextBased() || !('messages' in ch)) return [];
    const page = await paced(() => ch.messages.fetch({ after, limit: 100, cache: false }));
    return [...page.values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)).map((m) => this.toMessage(m));
  }

  /**
   * Server channels and threads of this client's guilds that have messages and that the bot may
   * read (View Channel and Read Message History), with their newest message's id, from the
   * gateway's cache: no request. A read it may not make would be a 403, which Discord counts
   * against the bot's invalid requests.
   */
  readableChannels(): Array<{ channelId: string; lastMessageId: string }> {
    const me = this.client.user;
    if (!me) return [];
    const out: Array<{ channelId: string; lastMessageId: string }> = [];
    for (const ch of this.client.channels.cache.values()) {
      if (ch.isDMBased() || !ch.isTextBased() || !ch.lastMessageId) continue;
      if (!ch.permissionsFor(me)?.has([PermissionFlagsBits.ViewChannel, PermissionFlagsBits.ReadMessageHistory])) continue;
      out.push({ channelId: ch.id, lastMessageId: ch.lastMessageId });
    }
    return out;
  }

  async edit(channelId: string, messageId: string, text: string): Promise<void> {
    await this.client.rest.patch(Routes.channelMessage(channelId, messageId), { body: { content: text, allowed_mentions: NO_PINGS } });
  }

  async remove(channelId: string, messageId: string): Promise<void> {
    await this.client.rest.delete(Routes.channelMessage(channelId, messageId));
  }

  async typing(channelId: string): Promise<void> {
    await this.client.rest.post(Routes.channelTyping(channelId));
  }

  /** A DM (or group DM) channel, where webhooks do not exist. */
  async isDm(channelId: string): Promise<boolean> {
    const ch = this.client.channels.cache.get(channelId) ?? (await this.client.channels.fetch(channelId));
    return ch?.isDMBased() ?? false;
  }

  /** Webhooks this application created in a (non-thread) channel. */
  async ownWebhooks(channelId: string, applicationId: string): Promise<DcWebhook[]> {
    const all = (await this.client.rest.get(Routes.channelWebhooks(channelId))) as Array<{ id: string; token?: string; name: string | null; application_id: string | null }>;
    return all.filter((w) => w.application_id === applicationId && w.token).map((w) => ({ id: w.id, token: w.token!, name: w.name ?? '' }));
  }

  async createWebhook(channelId: string, name: string): Promise<DcWebhook> {
    const w = (await this.client.rest.post(Routes.channelWebhooks(channelId), { body: { name } })) as { id: string; token: string; name: string };
    return { id: w.id, token: w.token, name: w.name };
  }

  /** Post as `username` (and avatar) through a webhook; `threadId` targets a thread of its channel. */
  async webhookSend(hook: DcWebhook, text: string, o: { username: string; avatarUrl?: string | undefined; threadId?: string | undefined }): Promise<string> {
    const query = new URLSearchParams({ wait: 'true', ...(o.threadId ? { thread_id: o.threadId } : {}) });
    const body = { content: text, username: o.username, allowed_mentions: NO_PINGS, ...(o.avatarUrl ? { avatar_url: o.avatarUrl } : {}) };
    const m = (await this.client.rest.post(Routes.webhook(hook.id, hook.token), { body, query, auth: false })) as { id: string };
    return m.id;
  }

  async webhookEdit(hook: DcWebhook, messageId: string, text: string, threadId?: string): Promise<void> {
    const query = new URLSearchParams(threadId ? { thread_id: threadId } : {});
    await this.client.rest.patch(Routes.webhookMessage(hook.id, hook.token, messageId), { body: { content: text, allowed_mentions: NO_PINGS }, query, auth: false });
  }
  /**
   * The bytes of a file a user attached (a card sent with a command), at most `maxBytes`: the
   * attachment URL comes from Discord's own message, and its CDN needs no token. Errors never
   * carry the URL.
   */
  async downloadAttachment(url: string, maxBytes: number): Promise<Buffer> {
    let res: Response;
    try {
      const dispatcher = this.opts.network?.dispatcher;
      res = await fetch(url, { signal: AbortSignal.timeout(30_000), redirect: 'error', ...(dispatcher ? { dispatcher } : {}) } as RequestInit);
    } catch (err) {
      throw new Error(`attachment download failed: ${err instanceof Error ? err.name : 'error'}`);
    }
    if (!res.ok || !res.body) throw new Error(`attachment download failed: HTTP ${res.status}`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > maxBytes) {
        await res.body.cancel().catch(() => undefined);
        throw new Error(`attachment too large (over ${maxBytes} bytes)`);
      }
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }


  private toMessage(m: Message): DcMessage {
    const botId = this.client.user?.id ?? '';
    const botRoleId = m.guild?.members.me?.roles.botRole?.id ?? null;
    let memberIsAdmin = false;
    try {
      memberIsAdmin = m.member?.permissions.has(PermissionFlagsBits.ManageGuild) ?? false;
    } catch {
      memberIsAdmin = false; // roles not cached: treat as a regular member
    }
    return {
      ...placeOf(m.channel, m.channelId, m.guildId),
      id: m.id,
      author: { id: m.author.id, name: m.member?.displayName ?? m.author.globalName ?? m.author.username, bot: m.author.bot },
      webhookId: m.webhookId,
      system: m.system,
      content: m.content,
      mentionsBot: m.mentions.users.has(botId) || (botRoleId !== null && m.mentions.roles.has(botRoleId)),
      botRoleId,
      repliedToUserId: m.reference?.messageId ? (m.mentions.repliedUser?.id ?? null) : null,
      attachments: m.attachments.map((a) => ({ url: a.url, contentType: a.contentType, name: a.name, size: a.size })),
      hasStickers: m.stickers.size > 0,
      memberIsAdmin,
      raw: m,
    };
  }

  private toCommand(i: ChatInputCommandInteraction): DcCommand {
    const top = i.options.data;
    const sub = top[0]?.type === ApplicationCommandOptionType.Subcommand ? top[0] : undefined;
    const options: Record<string, string | number | boolean> = {};
    for (const o of (sub?.options ?? top) as readonly CommandInteractionOption[]) if (o.value !== undefined && o.value !== null) options[o.name] = o.value;
    const flags = (ephemeral: boolean) => (ephemeral ? { flags: MessageFlags.Ephemeral as typeof MessageFlags.Ephemeral } : {});
    const member = i.member && 'displayName' in i.member ? i.member.displayName : undefined;
    return {
      ...placeOf(i.channel, i.channelId ?? '', i.guildId),
      type: 'command',
      id: i.id,
      name: i.commandName,
      subcommand: sub?.name ?? null,
      options,
      user: { id: i.user.id, name: member ?? i.user.globalName ?? i.user.username },
      memberIsAdmin: i.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false,
      reply: async (text, ephemeral) => void (await i.reply({ content: text, ...flags(ephemeral) })),
      defer: async (ephemeral) => void (await i.deferReply(flags(ephemeral))),
      editReply: async (text, messageId = '@original') => (await i.editReply({ content: text, message: messageId })).id,
      followUp: async (text, ephemeral) => (await i.followUp({ content: text, ...flags(ephemeral) })).id,
    };
  }
}

function toAutocomplete(i: AutocompleteInteraction): DcAutocomplete {
  const focused = i.options.getFocused(true);
  return {
    type: 'autocomplete',
    name: i.commandName,
    subcommand: i.options.getSubcommand(false),
    focused: { name: focused.name, value: String(focused.value) },
    respond: (choices) => i.respond(choices),
  };
}

/** DM, thread (with its parent) or any other guild channel, from the cached channel if there is one. */
function placeOf(channel: { isThread(): boolean; parentId?: string | null } | null, channelId: string, guildId: string | null): DcPlace {
  if (!guildId) return { channelId, guildId: null, channelKind: 'dm', parentId: null };
  if (channel?.isThread()) return { channelId, guildId, channelKind: 'thread', parentId: channel.parentId ?? null };
  return { channelId, guildId, channelKind: 'text', parentId: null };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * @discordjs/ws's identify throttler backed by a gate the instances share: Discord allows
 * `max_concurrency` IDENTIFYs per 5 s, one per bucket `shard_id % max_concurrency`, for the whole
 * bot, whichever process sends them.
 */
function sharedThrottler(gate: IdentifyGate) {
  return async (manager: { fetchGatewayInformation(): Promise<{ session_start_limit: { max_concurrency: number } }> }) => {
    const concurrency = Math.max(1, (await manager.fetchGatewayInformation()).session_start_limit.max_concurrency);
    return { waitForIdentify: (shardId: number, signal: AbortSignal) => gate.wait(shardId % concurrency, signal) };
  };
}

/** What a 4014 close means and where to fix it. */
const INTENT_HELP =
  'Discord refused the gateway connection (close code 4014, disallowed intents): this bot needs the Message Content intent, ' +
  'which is not enabled for it. Enable it in the Discord Developer Portal → your application → Bot → Privileged Gateway Intents → ' +
  '"Message Content Intent", save, and start charbridge again.';

/** Turn login failures people can fix into errors that say how. */
function startupError(err: unknown, closeCode: number | undefined): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (closeCode === 4014 || /disallowed intents/i.test(message)) return new ConfigError(INTENT_HELP);
  if (closeCode === 4010 || /invalid shard/i.test(message)) {
    return new ConfigError('Discord refused the shard (close code 4010, invalid shard): every id in DISCORD_SHARDS must be below DISCORD_SHARD_COUNT, and every instance must give the same DISCORD_SHARD_COUNT.');
  }
  if (closeCode === 4011 || /sharding is required/i.test(message)) {
    return new ConfigError('Discord requires sharding for this bot (close code 4011: too many guilds for one shard). Set DISCORD_SHARD_COUNT to a higher total (or auto for one instance) and split DISCORD_SHARDS between instances.');
  }
  if ((err as { code?: unknown }).code === 'TokenInvalid' || closeCode === 4004) {
    return new ConfigError('DISCORD_TOKEN was rejected by Discord (invalid token). Copy it again from the Developer Portal → your application → Bot → Reset Token.');
  }
  return new Error(`Discord login failed: ${message}`, { cause: err });
}
