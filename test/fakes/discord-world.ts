/**
 * The in-memory "Discord" behind the fake: users, guilds, channels, messages, webhooks,
 * interactions and application commands, plus builders for the JSON objects Discord API v10
 * sends. Shared by the REST side (discord-rest.ts) and the gateway (discord-gateway.ts) so a
 * message posted over REST can be echoed on the gateway exactly like Discord does.
 *
 * Objects carry the fields discord.js 14 reads when it builds its structures (a missing
 * `entitlements` on an interaction, or a missing `channel_type` on a DM MESSAGE_CREATE, makes
 * discord.js throw or silently drop the event), not every optional field of the API docs.
 */

/** Discord's epoch (2015-01-01T00:00:00Z), the base of snowflake timestamps. */
const DISCORD_EPOCH = 1420070400000n;

export const ChannelTypes = { GuildText: 0, DM: 1, PublicThread: 11 } as const;

/** Gateway intent bits the fake looks at. */
export const Intents = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildPresences: 1 << 8,
  GuildMessages: 1 << 9,
  DirectMessages: 1 << 12,
  MessageContent: 1 << 15,
} as const;
/** Intents that need a switch in the developer portal; requesting one that is off → close 4014. */
export const PRIVILEGED_INTENTS = Intents.GuildMembers | Intents.GuildPresences | Intents.MessageContent;
/** Every intent bit Discord defines today (0…25); anything above → close 4013. */
export const ALL_INTENTS = (1 << 26) - 1;

/**
 * A realistic @everyone permission set (View Channel, Send Messages, Read History, Use
 * Application Commands, …) but without Manage Guild (1<<5) or Administrator (1<<3), so tests
 * of admin-only commands must pass `permissions` explicitly.
 */
export const DEFAULT_MEMBER_PERMISSIONS = (
  (1n << 0n) | (1n << 6n) | (1n << 10n) | (1n << 11n) | (1n << 14n) | (1n << 15n) | (1n << 16n) |
  (1n << 18n) | (1n << 20n) | (1n << 21n) | (1n << 26n) | (1n << 31n) | (1n << 35n) | (1n << 38n)
).toString();

export interface ApiUser {
  id: string;
  username: string;
  discriminator: string;
  global_name: string | null;
  avatar: string | null;
  bot?: boolean;
}

export interface GuildState {
  id: string;
  name: string;
  ownerId: string;
  joinedAt: string;
  channelIds: string[];
  threadIds: string[];
  members: Map<string, any>;
  roles: any[];
}

/** A message created through REST (bot send, webhook execute), with its edit count. */
export interface StoredMessage {
  msg: any;
  edits: number;
  deleted: boolean;
}

export interface InteractionState {
  id: string;
  token: string;
  /** Interaction type: 2 APPLICATION_COMMAND, 4 APPLICATION_COMMAND_AUTOCOMPLETE. */
  type: number;
  user: ApiUser;
  createdAt: number;
  channelId: string;
  guildId: string | null;
  acknowledged: boolean;
  /** The @original response message once a type 4/5 callback created it. */
  original: any | null;
  responses: Array<{ kind: 'callback' | 'editOriginal' | 'followup'; type: number; data: any }>;
}

let lastSnowflake = 0n;
/**
 * A 19-digit snowflake. Always built from the wall clock (not the fake's `now`) and strictly
 * increasing: discord.js only treats 17–19 digit ids as major route parameters (its per-channel
 * rate-limit queues), so a scaled test clock must not produce short ids.
 */
export function nextSnowflake(): string {
  let s = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
  if (s <= lastSnowflake) s = lastSnowflake + 1n;
  lastSnowflake = s;
  return s.toString();
}

/**
 * A fresh snowflake whose guild events go to `shard` of `count` (`(id >> 22) % count`): the next
 * one, its timestamp moved up to `count - 1` ms forward.
 */
export function snowflakeOnShard(shard: number, count: number): string {
  const base = BigInt(nextSnowflake()) >> 22n;
  const ms = base + ((BigInt(shard) - (base % BigInt(count)) + BigInt(count)) % BigInt(count));
  let s = ms << 22n;
  if (s <= lastSnowflake) s = lastSnowflake + 1n;
  lastSnowflake = s;
  return s.toString();
}

export function userObject(u: { id: string; username: string; bot?: boolean; global_name?: string | null }): ApiUser {
  const o: ApiUser = { id: u.id, username: u.username, discriminator: '0', global_name: u.global_name ?? null, avatar: null };
  if (u.bot) o.bot = true;
  return o;
}

/** The in-memory state. `now` is the fake's (possibly test-controlled) clock. */
export class DiscordWorld {
  readonly guilds = new Map<string, GuildState>();
  /** Every channel by id (guild text channels, threads, DMs), as the API object. */
  readonly channels = new Map<string, any>();
  /** REST-created messages per channel, in creation order. */
  readonly messages = new Map<string, StoredMessage[]>();
  /** Messages dispatched by userMessage(), by id, so replies and GET /messages/:id find them. */
  readonly userMessages = new Map<string, any>();
  readonly webhooks = new Map<string, any>();
  readonly interactions = new Map<string, InteractionState>();
  readonly globalCommands: any[] = [];
  readonly guildCommands = new Map<string, any[]>();
  /** DM channel id per user id (one DM channel per recipient, like Discord). */
  readonly dmByUser = new Map<string, string>();
  /** Users seen in userMessage()/slashCommand(), for GET /users/:id and DM creation. */
  readonly knownUsers = new Map<string, ApiUser>();

  constructor(
    readonly now: () => number,
    readonly token: string,
    readonly bot: ApiUser,
    readonly applicationId: string,
  ) {}

  /** A fresh snowflake id, see {@link nextSnowflake}. */
  snowflake(): string {
    return nextSnowflake();
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }

  addGuild(o: { name?: string; ownerId?: string; id?: string } = {}): GuildState {
    const id = o.id ?? this.snowflake();
    const g: GuildState = {
      id,
      name: o.name ?? 'Fake Guild',
      ownerId: o.ownerId ?? this.snowflake(),
      joinedAt: this.iso(),
      channelIds: [],
      threadIds: [],
      members: new Map(),
      roles: [
        role(id, '@everyone', 0, DEFAULT_MEMBER_PERMISSIONS, false),
        // The bot's managed integration role; Administrator so permission checks never block it.
        role(this.snowflake(), this.bot.username, 1, (1n << 3n).toString(), true),
      ],
    };
    this.guilds.set(id, g);
    const botRole = g.roles[1].id as string;
    g.members.set(this.bot.id, memberObject(this.bot, g.joinedAt, [botRole]));
    return g;
  }

  addTextChannel(guildId: string, name = 'general'): any {
    const g = this.mustGuild(guildId);
    const ch = {
      id: this.snowflake(), type: ChannelTypes.GuildText, guild_id: guildId, name,
      position: g.channelIds.length, permission_overwrites: [], parent_id: null, topic: null,
      nsfw: false, last_message_id: null, rate_limit_per_user: 0, flags: 0,
    };
    g.channelIds.push(ch.id);
    this.channels.set(ch.id, ch);
    return ch;
  }

  addThread(guildId: string, parentId: string, name = 'a thread'): any {
    const g = this.mustGuild(guildId);
    const ts = this.iso();
    const th = {
      id: this.snowflake(), type: ChannelTypes.PublicThread, guild_id: guildId, parent_id: parentId,
      owner_id: this.bot.id, name, last_message_id: null, message_count: 0, member_count: 1,
      total_message_sent: 0, rate_limit_per_user: 0, flags: 0,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: ts, locked: false, create_timestamp: ts },
    };
    g.threadIds.push(th.id);
    this.channels.set(th.id, th);
    return th;
  }

  /** The DM channel with `user` (created on first use, like POST /users/@me/channels). */
  dmChannel(user: ApiUser, channelId?: string): any {
    const existing = channelId ?? this.dmByUser.get(user.id);
    if (existing && this.channels.has(existing)) return this.channels.get(existing);
    const ch = { id: existing ?? this.snowflake(), type: ChannelTypes.DM, last_message_id: null, flags: 0, recipients: [user] };
    this.channels.set(ch.id, ch);
    this.dmByUser.set(user.id, ch.id);
    return ch;
  }

  mustGuild(id: string): GuildState {
    const g = this.guilds.get(id);
    if (!g) throw new Error(`fake discord: unknown guild ${id}`);
    return g;
  }

  /** The full GUILD_CREATE payload discord.js needs to mark the guild available. */
  guildCreatePayload(g: GuildState): any {
    return {
      id: g.id, name: g.name, icon: null, splash: null, discovery_splash: null, banner: null,
      description: null, owner_id: g.ownerId, afk_channel_id: null, afk_timeout: 300,
      verification_level: 0, default_message_notifications: 0, explicit_content_filter: 0,
      mfa_level: 0, nsfw_level: 0, premium_tier: 0, premium_subscription_count: 0,
      system_channel_id: g.channelIds[0] ?? null, system_channel_flags: 0, rules_channel_id: null,
      public_updates_channel_id: null, safety_alerts_channel_id: null, vanity_url_code: null,
      preferred_locale: 'en-US', max_members: 500000, max_video_channel_users: 25,
      application_id: null, widget_enabled: false, premium_progress_bar_enabled: false,
      features: [], emojis: [], stickers: [], roles: g.roles,
      joined_at: g.joinedAt, large: false, unavailable: false, member_count: g.members.size,
      members: [...g.members.values()], voice_states: [], presences: [], stage_instances: [],
      guild_scheduled_events: [], soundboard_sounds: [],
      channels: g.channelIds.map((id) => this.channels.get(id)),
      threads: g.threadIds.map((id) => this.channels.get(id)),
    };
  }

  /** Guild a channel belongs to (threads and text channels), or null for DMs/unknown. */
  guildOf(channelId: string): string | null {
    return (this.channels.get(channelId)?.guild_id as string | undefined) ?? null;
  }

  storeMessage(msg: any): StoredMessage {
    const list = this.messages.get(msg.channel_id) ?? [];
    const stored: StoredMessage = { msg, edits: 0, deleted: false };
    list.push(stored);
    this.messages.set(msg.channel_id, list);
    const ch = this.channels.get(msg.channel_id);
    if (ch) ch.last_message_id = msg.id;
    return stored;
  }

  findStored(channelId: string, messageId: string): StoredMessage | undefined {
    return this.messages.get(channelId)?.find((m) => m.msg.id === messageId && !m.deleted);
  }

  /** Any known message by id: REST-created or dispatched by userMessage(). */
  findAnyMessage(messageId: string): any {
    if (this.userMessages.has(messageId)) return this.userMessages.get(messageId);
    for (const list of this.messages.values()) {
      const m = list.find((s) => s.msg.id === messageId);
      if (m) return m.msg;
    }
    return undefined;
  }

  /**
   * A full API message object. `reference` becomes `message_reference` and, when the target
   * is known, `referenced_message` (+ type 19 REPLY), as Discord returns for replies.
   */
  message(o: {
    channelId: string; author: ApiUser; content: string; guildId?: string | null; embeds?: any[];
    attachments?: any[]; mentions?: ApiUser[]; reference?: any; webhookId?: string; flags?: number;
    member?: any; nonce?: string | number; components?: any[];
  }): any {
    const referenced = o.reference?.message_id ? this.findAnyMessage(String(o.reference.message_id)) : undefined;
    const msg: any = {
      id: this.snowflake(), channel_id: o.channelId, author: o.author, content: o.content,
      timestamp: this.iso(), edited_timestamp: null, tts: false, mention_everyone: false,
      mentions: o.mentions ?? [], mention_roles: [], attachments: o.attachments ?? [],
      embeds: o.embeds ?? [], components: o.components ?? [], pinned: false,
      type: o.reference ? 19 : 0, flags: o.flags ?? 0,
    };
    if (o.guildId) msg.guild_id = o.guildId;
    if (o.member) msg.member = o.member;
    if (o.webhookId) msg.webhook_id = o.webhookId;
    if (o.nonce !== undefined) msg.nonce = o.nonce;
    if (o.reference) {
      msg.message_reference = {
        type: 0, message_id: String(o.reference.message_id), channel_id: o.reference.channel_id ?? o.channelId,
        ...(o.guildId ? { guild_id: o.reference.guild_id ?? o.guildId } : {}),
      };
      msg.referenced_message = referenced ?? null;
    }
    return msg;
  }
}

function role(id: string, name: string, position: number, permissions: string, managed: boolean): any {
  return {
    id, name, color: 0, colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false, icon: null, unicode_emoji: null, position, permissions, managed, mentionable: false, flags: 0,
  };
}

export function memberObject(user: ApiUser, joinedAt: string, roles: string[] = []): any {
  return {
    user, nick: null, avatar: null, banner: null, roles, joined_at: joinedAt, premium_since: null,
    deaf: false, mute: false, flags: 0, pending: false, communication_disabled_until: null,
  };
}
