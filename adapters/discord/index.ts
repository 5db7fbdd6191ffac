/**
 * The Discord adapter: wires transport (discord.js) → inbound (message or slash command →
 * InboundMessage) → the engine → outbound (ReplyStream → posts and edits, or the interaction's
 * response), with one outbound budget per bot. Same shape as the Telegram adapter: the SDK is
 * confined to transport.ts and Discord's limits are expressed as budget windows.
 */
import type { AdapterDeps, AdapterStatus, Log, OutboundText, PlatformAdapter, ReplyPlanner } from '../../src/core/adapter.js';
import { TaskTracker } from '../../src/core/tasks.js';
import type { InboundMessage } from '../../src/core/types.js';
import { OutboundBudget, SKIPPED, type RateWindow } from '../shared/budget.js';
import { chatOf } from '../shared/conversation.js';
import { fetchInboundFile, wantsFiles } from '../shared/files.js';
import { rememberedChannels, sharedChannels, tokenId } from '../shared/shared-window.js';
import { StatusTracker } from '../shared/status.js';
import { onceStoreAnswers } from '../shared/store-wait.js';
import { autocompletesCharacters, characterChoices, discordCommands, toEngineText } from './commands.js';
import { commandToInbound, toInbound, type BotIdentity } from './inbound.js';
import { answerCommand } from './interactions.js';
import { discordKeys, type DiscordTarget } from './keys.js';
import { ChannelSurface, deliverReply, replyPlanner, sendText, type ChannelSurfaceDeps, type OutboundDeps } from './outbound.js';
import { DiscordTransport, retryAfterMs, type DcAutocomplete, type DcCommand, type DcInteraction, type DcMessage } from './transport.js';
import { CharacterWebhooks } from './webhooks.js';
import { discordReplyMarks } from './reply-marks.js';
import { CatchUp } from './catch-up.js';
import { EXPIRED, replayMissed, type ReplayedMessage } from './gateway-replay.js';
import { GatewaySessions, type NotedSession } from './gateway-session.js';
import type { DiscordConfig } from './config.js';

/** `config.discord`: the discord module's own schema (./config.ts). */
export type { DiscordConfig } from './config.js';

/** Timings and limits. Defaults are Discord's; tests scale them down. */
export interface DiscordTuning {
  /** Least time between two posts/edits of one streamed reply (~1 edit per second per message). */
  editIntervalMs: number;
  firstSendDelayMs: number;
  /** Discord shows "typing…" for ~10 s per call. */
  typingIntervalMs: number;
  /**
   * The typing route's own bucket per channel. Typing also counts toward the bot-wide rate, so it
   * is sent only when both have a slot free at that moment (never a 429 for a courtesy).
   */
  typingWindow: RateWindow;
  maxMessageLength: number;
  /** Posts and edits per channel: 5 per 5 s, one kept for final texts. */
  channelWindow: RateWindow;
  /** Edits and followups of one interaction response (its webhook bucket). */
  interactionWindow: RateWindow;
  /** The whole bot: 50 requests per second. */
  globalWindow: RateWindow;
  /** A slash command without an answer after this long is deferred (Discord's limit is 3 s). */
  deferAfterMs: number;
  maxAttempts: number;
  /** How long stop() waits for replies in flight to land. */
  stopTimeoutMs: number;
  /** At start, messages sent while no process listened are read back this far (catch-up.ts). */
  catchUpMs: number;
  /** The gateway sessions are noted this often for the next process to replay (gateway-session.ts). */
  sessionSaveMs: number;
  /**
   * Instances sharing shards: another process's session note silent this long (its heartbeat
   * stopped) is replayed by a live instance, which answers what only the dead one had heard.
   */
  sessionStaleMs: number;
  /** How long replaying the previous process's gateway session may take at start. */
  replayTimeoutMs: number;
  /** discord.js messages cached per channel; undefined = its default. 0 in replay tests. */
  messageCacheSize: number | undefined;
  /**
   * Least time between two IDENTIFYs of one bucket across instances (with a shared identify
   * gate): Discord's 5 s plus room for the frame's trip, so two of them never land inside 5 s.
   */
  identifyWindowMs: number;
}

export const DISCORD_TUNING: DiscordTuning = {
  editIntervalMs: 1000,
  firstSendDelayMs: 1000,
  typingIntervalMs: 8000,
  typingWindow: { max: 5, windowMs: 5000 },
  maxMessageLength: 2000,
  channelWindow: { max: 5, windowMs: 5000, reserve: 1 },
  interactionWindow: { max: 5, windowMs: 2000, reserve: 1 },
  globalWindow: { max: 50, windowMs: 1000, reserve: 10 },
  deferAfterMs: 2500,
  maxAttempts: 6,
  stopTimeoutMs: 10_000,
  catchUpMs: 24 * 3_600_000,
  sessionSaveMs: 2000,
  sessionStaleMs: 10_000,
  replayTimeoutMs: 5000,
  messageCacheSize: undefined,
  identifyWindowMs: 5500,
};

export interface DiscordAdapterDeps extends AdapterDeps {
  /** Character names for autocomplete (the shared list: presets and public characters). */
  listCharacters(): Promise<string[]>;
  /** A character's avatar URL for webhook posts (optional). */
  characterAvatar?(name: string): Promise<string | undefined>;
  tuning?: Partial<DiscordTuning>;
}

export interface DiscordAdapter extends PlatformAdapter<DiscordTarget> {
  /** Known after start(). */
  readonly bot: BotIdentity | undefined;
}

/**
 * @example
 * const discord = createDiscordAdapter(config.discord, { handler: engine, log, commands: commandMenu(engine.commands), listCharacters });
 * await discord.start(); // gateway login + slash command registration
 */
export function createDiscordAdapter(config: DiscordConfig, deps: DiscordAdapterDeps): DiscordAdapter {
  return new DiscordBot(config, deps);
}

/** discord.js wants the REST base without the version (`…/api`); accept a bare origin too. */
export function restBase(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const u = url.replace(/\/+$/, '').replace(/\/v\d+$/, '');
  return u.endsWith('/api') ? u : `${u}/api`;
}

/** Budget keys of reads: no window of their own, only the bot-wide one. */
const READ = 'read:';
/** A channel's budget key: not an interaction's answer (`ix:…`), which only this process sends, nor a read. */
const isChannel = (key: string): boolean => !key.startsWith('ix:') && !key.startsWith(READ);

class DiscordBot implements DiscordAdapter {
  readonly platform = 'discord' as const;
  readonly keys = discordKeys;
  bot: BotIdentity | undefined;
  private readonly tuning: DiscordTuning;
  private readonly log: Log;
  private readonly transport: DiscordTransport;
  private readonly budget: OutboundBudget;
  private readonly out: OutboundDeps;
  private readonly surfaceDeps: ChannelSurfaceDeps;
  private readonly webhooks: CharacterWebhooks | undefined;
  private readonly tasks = new TaskTracker();
  private readonly state: StatusTracker;
  /** What was sent while no process listened; absent without `recentChats`. */
  private readonly catchUp: CatchUp | undefined;
  /**
   * This process's gateway sessions, noted for the next one to replay (or, when instances share
   * shards, for whichever instance outlives it); absent without notes.
   */
  private readonly sessions: GatewaySessions | undefined;
  /** Shared shards: the look for sessions another process abandoned, and whether one runs. */
  private abandonedTimer: NodeJS.Timeout | undefined;
  /** A replay of abandoned sessions under way: a stop waits for it, so what it carries is in the last note. */
  private replaying: Promise<void> | undefined;
  private accepting = false;
  /** Messages dispatched before start-up has planned what to read back: handed on after that. */
  private early: DcMessage[] | undefined = [];

  constructor(
    private readonly config: DiscordConfig,
    private readonly deps: DiscordAdapterDeps,
  ) {
    this.tuning = { ...DISCORD_TUNING, ...deps.tuning };
    this.log = deps.log.child?.({ platform: 'discord' }) ?? deps.log;
    this.state = new StatusTracker('discord', 'gateway', deps.now);
    this.catchUp = deps.recentChats
      ? new CatchUp({
          recentChats: deps.recentChats,
          decode: (key) => this.keys.decode(key),
          messagesAfter: (channelId, after) => this.transport.messagesAfter(channelId, after, (call) => this.paced(`${READ}${channelId}`, call)),
          take: (m) => this.take(m),
          reading: (channelId, ids) => this.sessions?.reading(channelId, ids),
          activeChannels: () => this.transport.readableChannels(),
          log: this.log,
          now: deps.now ?? Date.now,
          sleep: deps.sleep,
          windowMs: this.tuning.catchUpMs,
        })
      : undefined;
    // What the instances of this bot share is named by its token's hash.
    const bot = `discord:${tokenId(config.token)}`;
    // Other instances may run the same shards: each notes its own session, and none resumes a live one.
    const sharesShards = deps.sharedWindow !== undefined && config.shards === undefined;
    this.sessions =
      this.catchUp && deps.sendMarks
        ? new GatewaySessions(deps.sendMarks, tokenId(config.token), {
            log: this.log,
            now: deps.now ?? Date.now,
            saveEveryMs: this.tuning.sessionSaveMs,
            ...(sharesShards ? { shared: { staleMs: this.tuning.sessionStaleMs } } : {}),
            ...(deps.sleep ? { sleep: deps.sleep } : {}),
            ...(deps.storeDowntime ? { downtime: deps.storeDowntime } : {}),
          })
        : undefined;
    this.transport = new DiscordTransport(
      {
        token: config.token,
        api: restBase(config.apiUrl),
        log: this.log,
        events: this.state,
        messageCacheSize: this.tuning.messageCacheSize,
        network: deps.network,
        globalPerSecond: Math.round((this.tuning.globalWindow.max * 1000) / this.tuning.globalWindow.windowMs),
        shards: config.shards,
        shardCount: config.shardCount,
        // Per bot token: instances connecting shards of one bot take turns to identify.
        identify: deps.identifyGate?.(bot, this.tuning.identifyWindowMs),
      },
      {
        onMessage: (m) => this.onMessage(m),
        onInteraction: (i) => this.onInteraction(i),
        ...(this.sessions ? { onDispatch: (shard: number, packet: Parameters<GatewaySessions['dispatched']>[1]) => this.sessions!.dispatched(shard, packet) } : {}),
      },
    );
    const { channelWindow, interactionWindow, globalWindow } = this.tuning;
    this.budget = new OutboundBudget({
      windowsFor: (key) => (key.startsWith('ix:') ? [interactionWindow] : key.startsWith(READ) ? [] : [channelWindow]),
      // Per bot token: with several instances the global rate is counted where they all see it.
      ...(deps.sharedWindow ? { shared: deps.sharedWindow(bot, [globalWindow]) } : { global: [globalWindow] }),
      // A channel's consecutive turns may be answered by different instances (a single instance's,
      // by the run before a restart); an interaction's answer never is.
      ...(deps.sharedWindow
        ? { sharedChats: sharedChannels(deps.sharedWindow, bot, isChannel) }
        : deps.chatTally
          ? { rememberedChats: rememberedChannels(deps.chatTally, bot, isChannel) }
          : {}),
      retryAfterMs,
      maxAttempts: this.tuning.maxAttempts,
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      onRateLimited: (key, ms) => this.log.info({ key, retryAfterMs: ms }, 'discord rate limit: waiting it out'),
    });
    this.out = { budget: this.budget, log: this.log, tuning: this.tuning };
    this.webhooks = config.characterWebhooks ? new CharacterWebhooks(this.transport, () => this.bot?.applicationId ?? '', this.log) : undefined;
    this.surfaceDeps = {
      transport: this.transport,
      webhooks: this.webhooks,
      avatarOf: deps.characterAvatar ? (name) => deps.characterAvatar!(name) : undefined,
      marks: this.webhooks ? discordReplyMarks(deps.sendMarks, this.log) : undefined,
      log: this.log,
    };
  }

  async start(): Promise<void> {
    // The channels to read back are known before the gateway delivers anything: their live messages wait for it.
    const planned = this.catchUp?.plan();
    this.bot = await this.transport.start();
    await planned;
    // Read after the recent chats: a start whose read back had moved them has noted its gap by then.
    if (this.catchUp && this.sessions) this.catchUp.widen(await this.gapsNoted(this.sessions));
    // What the previous process's gateway session was sent after it, DMs included.
    this.catchUp?.planReplayed(await this.replayed(true));
    const gap = this.catchUp?.gapStart;
    if (gap !== undefined) this.sessions?.openGap(gap);
    // Noted before anything is read back (and moves the recent chats), so a start meanwhile sees the gap.
    await this.sessions?.start();
    if (this.sessions?.shared) {
      this.abandonedTimer = setInterval(() => void this.replayAbandoned(), this.tuning.sessionSaveMs);
      this.abandonedTimer.unref();
    }
    // The servers are listed now: their channels active during the gap join the plan.
    this.catchUp?.planActive();
    this.accepting = true;
    const early = this.early ?? [];
    this.early = undefined;
    for (const m of early) if (!this.catchUp?.hold(m)) this.take(m);
    if (this.catchUp) this.track(this.catchUp.run().finally(() => this.sessions?.closeGap()), { catchUp: true });
    const guildIds = this.config.guildIds ?? [];
    await this.transport
      .registerCommands(this.bot.applicationId, discordCommands(this.deps.commands), guildIds)
      .then(() => this.log.info({ guilds: guildIds.length ? guildIds : 'global' }, 'discord slash commands registered'))
      .catch((err: unknown) => this.log.warn({ err }, 'registering slash commands failed; messages still work, the command menu may be stale'));
    this.log.info({ bot: this.bot.username, ...this.transport.shardInfo() }, 'discord gateway connected');
  }

  /** Stop taking events, let replies in flight land (bounded), then close the gateway and REST. */
  async stop(): Promise<void> {
    this.accepting = false;
    clearInterval(this.abandonedTimer);
    this.abandonedTimer = undefined;
    await this.replaying;
    await this.tasks.drain(this.tuning.stopTimeoutMs);
    // The session stays resumable and its note says up to where this process answered: the
    // next one has Discord replay what is sent meanwhile.
    await this.sessions?.stop();
    await this.transport.stop({ resumable: this.sessions !== undefined });
  }

  /** Where the gaps of starts still reading back began; none when the notes cannot be read. */
  private async gapsNoted(sessions: GatewaySessions): Promise<string[]> {
    try {
      return await sessions.gapsNoted((this.deps.now ?? Date.now)() - this.tuning.catchUpMs);
    } catch (err) {
      this.log.warn({ err }, "discord: could not read where other starts' read backs began; a channel one of them is still reading may be answered out of order");
      return [];
    }
  }

  /**
   * The messages Discord replays from the sessions the previous process noted (or, with shared
   * shards, that processes which stopped noting left); [] when none could be.
   */
  private async replayed(atStart: boolean): Promise<ReplayedMessage[]> {
    const sessions = this.sessions;
    if (!sessions) return [];
    const out: ReplayedMessage[] = [];
    try {
      const since = (this.deps.now ?? Date.now)() - this.tuning.catchUpMs;
      const { shards: listed } = this.transport.shardInfo();
      const shards = listed.length ? listed : [0];
      const read = (): Promise<Array<NotedSession & { key?: string }>> =>
        !sessions.shared ? sessions.stored(shards, since) : atStart ? sessions.abandonedAtStart(shards, since) : sessions.abandoned(shards, since);
      // At a start the notes are the only way to what a previous process heard: an unreachable
      // database is waited for, live messages held back meanwhile. Later looks just come again.
      const waiting = 'the previous gateway sessions, to replay what they were sent before any live message';
      const notes = atStart ? await onceStoreAnswers(read, { log: this.log, waiting, sleep: this.deps.sleep }) : await read();
      for (const s of notes) {
        const network = this.deps.network;
        const got = await replayMissed(s, this.config.token, this.tuning.replayTimeoutMs, network && ((url) => network.agentFor(url))).catch((err: unknown) => {
          this.log.warn({ err, shard: s.shard }, 'discord: could not replay the previous gateway session; a first DM sent while no process listened stays unanswered');
          return undefined;
        });
        if (got === EXPIRED) this.log.info({ shard: s.shard }, 'discord: the previous gateway session had expired; nothing to replay');
        // With shared shards this process heard most of it too: what it already has needs no read back.
        const replayed = got === EXPIRED || got === undefined ? [] : got.filter((m) => !sessions.has(m.messageId));
        // The replay ended that session: until read back, its channels (and those the previous
        // start had not read back) live on in this process's note.
        sessions.carry(s.shard, replayed, s.unread);
        out.push(...replayed, ...s.unread.map((u) => ({ channelId: u.channelId, messageId: (BigInt(u.after) + 1n).toString() })));
        if (s.key !== undefined && got === undefined) sessions.retryLater(s.key);
        else if (s.key !== undefined) {
          if (got && got !== EXPIRED) this.log.info({ shard: s.shard, messages: got.length, unheard: replayed.length }, 'discord: replayed the gateway session of an instance that stopped noting it');
          await sessions.forget(s.key);
        }
      }
    } catch (err) {
      // The look every few seconds for abandoned sessions fails each time the database is away.
      this.log[atStart ? 'warn' : 'debug']({ err }, 'discord: could not read the previous gateway sessions');
    }
    return out;
  }

  /**
   * Shared shards: replay the sessions of instances that died or stopped since, and read back
   * the channels they were sent messages in (their live messages wait meanwhile, as at start).
   */
  private replayAbandoned(): Promise<void> {
    if (this.replaying || !this.accepting || !this.catchUp) return this.replaying ?? Promise.resolve();
    const catchUp = this.catchUp;
    this.replaying = (async () => {
      const missed = await this.replayed(false);
      if (!missed.length || !this.accepting) return;
      catchUp.planReplayed(missed);
      this.track(catchUp.run(), { catchUp: true });
    })().finally(() => (this.replaying = undefined));
    return this.replaying;
  }

  settled(): Promise<void> {
    return this.tasks.drain().then(() => undefined);
  }

  /** Proactive message to a DM channel, a channel or a thread, through the same budget as replies. */
  async deliver(msg: OutboundText): Promise<void> {
    if (!this.bot) throw new Error('The Discord adapter is not running');
    const target = this.keys.decode(msg.key);
    const surface = new ChannelSurface({ ...target, characterName: msg.characterName, dedupeKey: msg.dedupeKey }, this.surfaceDeps);
    // A per-member conversation in a shared channel: say whom it is for (allowed_mentions keeps it from pinging).
    const text = target.userId !== undefined ? `<@${target.userId}> ${msg.text}` : msg.text;
    // What an earlier attempt posted through the character's webhook (no nonce returns those) is edited, not posted again.
    const marks = this.surfaceDeps.marks;
    const earlier = msg.maybeSent && msg.dedupeKey !== undefined && marks ? await surface.adopt(await marks.earlier(msg.dedupeKey)) : undefined;
    await sendText(text, surface, this.out, msg.beforeFirstCall, earlier);
  }

  /** Bot posts carry nonces Discord enforces; a character's webhook posts cannot (only those noted before their reply's last are found again). */
  get sendsOnceByKey(): boolean {
    return !this.webhooks;
  }

  planner(target: DiscordTarget): ReplyPlanner {
    return replyPlanner(new ChannelSurface(target, this.surfaceDeps), this.out);
  }

  status(): AdapterStatus {
    return this.state.snapshot(this.budget.stats(), this.tasks.size);
  }

  /**
   * Called by discord.js for every message; returns at once. Conversion is synchronous, so the
   * engine is handed messages in gateway order; delivering the reply runs beside it. A command
   * with attachments (`/character import` with a card) first downloads them, size-capped.
   */
  private onMessage(m: DcMessage): void {
    this.state.event();
    if (this.early) this.early.push(m);
    else if (!this.catchUp?.hold(m)) this.take(m);
  }

  /**
   * A message to the engine, unless it is not one to answer; false then. One dropped because
   * this process is stopping stays unsettled: its session's note stays behind it, so the next
   * process has it replayed.
   */
  private take(m: DcMessage): boolean {
    const bot = this.bot;
    if (!this.accepting || !bot) return false;
    const msg = toInbound(m, bot, this.webhooks?.ids);
    if (!msg || msg.fromBot) {
      this.sessions?.settled(m.id);
      return false;
    }
    if (wantsFiles(msg.text) && m.attachments.length) {
      this.track(this.withFiles(msg, m).then((full) => this.dispatch(full, m)), { messageId: m.id });
      return true;
    }
    this.dispatch(msg, m);
    return true;
  }

  /** A command's attachments as files (not as pictures for the model). */
  private async withFiles(msg: InboundMessage, m: DcMessage): Promise<InboundMessage> {
    const files = await Promise.all(
      m.attachments.map((a) =>
        fetchInboundFile({ name: a.name, mime: a.contentType ?? 'application/octet-stream', size: a.size }, (max) => this.transport.downloadAttachment(a.url, max), this.log),
      ),
    );
    const { unsupportedMedia: _media, ...rest } = msg;
    return { ...rest, imageUrls: [], files };
  }

  private dispatch(msg: InboundMessage, m: DcMessage): void {
    if (!this.accepting) return;
    const events = this.deps.handler.handle(msg);
    const settle = () => this.sessions?.settled(m.id);
    if (events.accepted) events.accepted.then(settle, () => undefined); // not on disk: held back until it counts as stuck
    else settle();
    const dm = m.channelKind === 'dm';
    const surface = new ChannelSurface({ ...this.keys.decode(chatOf(msg)), dm, ...(dm ? {} : { replyTo: m.id }), dedupeKey: msg.eventId }, this.surfaceDeps);
    this.track(deliverReply(events, surface, this.out), { messageId: m.id });
  }

  private onInteraction(i: DcInteraction): void {
    this.state.event();
    if (!this.accepting || !this.bot) return;
    if (i.type === 'autocomplete') this.track(this.autocomplete(i), { autocomplete: i.name });
    else this.track(this.command(i), { command: i.name });
  }

  private async command(c: DcCommand): Promise<void> {
    const mapped = toEngineText(this.deps.commands, { name: c.name, subcommand: c.subcommand, options: c.options });
    if (!mapped) {
      await c.reply('This command is not known here any more.', true);
      return;
    }
    const events = this.deps.handler.handle(commandToInbound(c, mapped.text));
    await answerCommand(events, c, this.out, { deferNow: mapped.callsModel, deferAfterMs: this.tuning.deferAfterMs });
  }

  private async autocomplete(a: DcAutocomplete): Promise<void> {
    const wanted = autocompletesCharacters(this.deps.commands, { name: a.name, subcommand: a.subcommand, focused: a.focused.name });
    const names = wanted ? await this.deps.listCharacters() : [];
    await a.respond(characterChoices(names, a.focused.value));
  }

  /**
   * A read counted in the bot-wide window (shared by the instances), behind replies' final
   * texts: discord.js paces only this process, and instances restarting together each read back
   * their chats at once.
   */
  private async paced<T>(key: string, call: () => Promise<T>): Promise<T> {
    const r = await this.budget.run(key, call, { priority: 'normal' });
    if (r === SKIPPED) throw new Error('a paced Discord read was skipped'); // only an aborted task is, and this one has no signal
    return r;
  }

  private track(task: Promise<void>, context: object): void {
    this.tasks.track(task.catch((err: unknown) => this.log.error({ err, ...context }, 'discord event failed')));
  }
}
