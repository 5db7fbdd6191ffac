/**
 * The Slack adapter: Socket Mode (SLACK_APP_TOKEN; no public URL needed) or HTTP events
 * (SLACK_SIGNING_SECRET; served by our HTTP server at `/slack/events`). Channels answer
 * `app_mention` in the mention's thread, a thread being its own conversation; DMs always
 * answer; one slash command carries the chat commands. Replies stream (natively where Slack
 * allows, else by editing) through one outbound budget that also carries proactive messages.
 *
 * Events are only handed over inside Bolt's listeners — the reply is delivered outside them —
 * so acks (HTTP within 3 s, Socket Mode envelopes) never wait on the model.
 */
import type { AdapterDeps, AdapterStatus, OutboundText, PlatformAdapter, RawHttpRoute, ReplyPlanner } from '../../src/core/adapter.js';
import type { ReplyEvent } from '../../src/core/types.js';
import { TaskTracker } from '../../src/core/tasks.js';
import type { RateWindow } from '../shared/budget.js';
import { chatOf } from '../shared/conversation.js';
import { OrderedByKey } from '../shared/ordered.js';
import { tokenId } from '../shared/shared-window.js';
import { StatusTracker } from '../shared/status.js';
import { isChannelWide, parseSubcommand, slashify } from './commands.js';
import { classify, commandToInbound, messageEventId, toInbound, UserDirectory, type BotIds } from './inbound.js';
import { isDmChannel, slackKeys, type SlackTarget } from './keys.js';
import { toMrkdwn } from './mrkdwn.js';
import { SignedHttpReceiver } from './receiver.js';
import { DEFAULT_PACING, MESSAGE_LIMIT, SlackOutbound, STREAM_LIMIT, type ReplyTarget } from './outbound.js';
import { retryAfterMs, SlackTransport, slackErrorCode, type RespondFn, type RetryPolicy, type SlackCommand, type SlackMessageEvent } from './transport.js';
import type { SlackConfig } from './config.js';

/** `config.slack`: the slack module's own schema (./config.ts). */
export type { SlackConfig } from './config.js';
/** The name the adapter used before the schema owned it. */
export type SlackAdapterConfig = SlackConfig;

/** Timings and limits. Defaults are Slack's; tests scale them down. */
export interface SlackTuning {
  /** Every message call in one channel: Slack allows ~1 post a second per channel, short bursts. */
  perChannel: RateWindow[];
  /** Workspace-wide windows per Web API method (Slack's tiers). */
  tiers: Record<string, RateWindow>;
  /** Characters per posted message (mrkdwn text). */
  messageLimit: number;
  /** Characters per natively streamed message. */
  streamLimit: number;
  /** Try chat.startStream at all. */
  nativeStreaming: boolean;
  /** How long users.info answers (names, admin rights) are reused. */
  userCacheMs: number;
  /** How long stop() waits for replies in flight to land. */
  stopTimeoutMs: number;
  /** Web API retries for network errors and 5xx (never 429s: the budget waits those out). */
  retry: RetryPolicy;
  /** Socket Mode ping timeout in ms (also how fast a dropped socket reconnects); Bolt's default when unset. */
  socketPingTimeoutMs: number | undefined;
}

export const SLACK_TUNING: SlackTuning = {
  ...DEFAULT_PACING,
  messageLimit: MESSAGE_LIMIT,
  streamLimit: STREAM_LIMIT,
  nativeStreaming: true,
  userCacheMs: 5 * 60_000,
  stopTimeoutMs: 10_000,
  retry: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5000 },
  socketPingTimeoutMs: undefined,
};

/** `now` also clocks the tier gate, the user cache and signature timestamps. */
export interface SlackAdapterDeps extends AdapterDeps {
  tuning?: Partial<SlackTuning>;
}

export const SLACK_EVENTS_PATH = '/slack/events';

/** Slash commands cannot run inside threads, and in channels each thread is a conversation. */
const CLEAR_IN_CHANNEL =
  'In channels each thread is its own conversation. To clear one, mention me in that thread with `/clear`, or start a new thread by mentioning me in the channel.';

export class SlackAdapter implements PlatformAdapter<SlackTarget> {
  readonly platform = 'slack' as const;
  readonly keys = slackKeys;
  readonly transport: SlackTransport;
  readonly outbound: SlackOutbound;
  private readonly users: UserDirectory;
  private readonly tuning: SlackTuning;
  private readonly ordered = new OrderedByKey();
  private readonly tasks = new TaskTracker();
  private readonly state: StatusTracker;
  private me: BotIds | undefined;
  private accepting = false;

  constructor(
    private readonly config: SlackAdapterConfig,
    private readonly deps: SlackAdapterDeps,
  ) {
    const tuning = (this.tuning = { ...SLACK_TUNING, ...deps.tuning });
    const log = deps.log.child?.({ platform: 'slack' }) ?? deps.log;
    this.state = new StatusTracker('slack', config.appToken ? 'socket' : 'http', deps.now);
    const httpReceiver =
      !config.appToken && config.signingSecret
        ? new SignedHttpReceiver({ signingSecret: config.signingSecret, log, ...(deps.now ? { now: deps.now } : {}) })
        : undefined;
    this.transport = new SlackTransport(
      {
        botToken: config.botToken,
        appToken: config.appToken,
        httpReceiver,
        apiUrl: config.apiUrl,
        command: config.command,
        log,
        network: deps.network,
        retryConfig: tuning.retry,
        clientPingTimeout: tuning.socketPingTimeoutMs,
        events: this.state,
      },
      { onMessage: (e, meta) => this.onMessage(e, meta.teamId), onCommand: (c, respond) => this.onCommand(c, respond) },
    );
    this.outbound = new SlackOutbound({
      sender: this.transport,
      log,
      errorCode: slackErrorCode,
      retryAfterMs,
      pacing: { perChannel: tuning.perChannel, tiers: tuning.tiers },
      messageLimit: tuning.messageLimit,
      streamLimit: tuning.streamLimit,
      nativeStreaming: tuning.nativeStreaming,
      marks: deps.sendMarks,
      now: deps.now,
      sleep: deps.sleep,
      // A channel's consecutive turns may be answered by different instances (or by the run before
      // a restart), and tiers are per app.
      shared:
        deps.sharedWindow || deps.sharedTally || deps.chatTally
          ? { windows: deps.sharedWindow, tallies: deps.sharedTally, chats: deps.chatTally, bot: `slack:${tokenId(config.botToken)}` }
          : undefined,
    });
    this.users = new UserDirectory((id) => this.transport.userInfo(id), {
      ttlMs: tuning.userCacheMs,
      now: deps.now ?? Date.now,
      onError: (err, userId) => log.warn({ err, userId }, 'slack users.info failed'),
    });
  }

  /** `socket` with an app token, else `http`. */
  get mode(): 'socket' | 'http' {
    return this.transport.mode;
  }

  routes(): RawHttpRoute[] {
    const receiver = this.transport.receiver;
    return receiver ? [{ method: 'POST', path: SLACK_EVENTS_PATH, handle: receiver.handle }] : [];
  }

  async start(): Promise<void> {
    this.me = await this.transport.identity();
    await this.outbound.gate.prime();
    this.accepting = true;
    await this.transport.start();
    this.deps.log.info({ mode: this.mode, botUserId: this.me.botUserId, team: this.me.teamId }, 'slack adapter receiving');
  }

  async stop(): Promise<void> {
    this.accepting = false;
    await this.transport.stop();
    await this.tasks.drain(this.tuning.stopTimeoutMs);
  }

  /** Proactive messages: to the DM (or channel, or thread) the conversation key names. */
  async deliver(msg: OutboundText): Promise<void> {
    await this.outbound.sendText({ ...this.keys.decode(msg.key), tag: msg.dedupeKey }, msg.text, { maybeSent: msg.maybeSent, beforeFirstCall: msg.beforeFirstCall });
  }

  /** A reply's messages carry their key in metadata, looked up before sending again (best effort: a refused lookup sends it whole). */
  readonly sendsOnceByKey = true;

  planner(target: SlackTarget): ReplyPlanner {
    return this.outbound.planner(target);
  }

  status(): AdapterStatus {
    return this.state.snapshot(this.outbound.budget.stats(), this.tasks.size);
  }

  /** Resolves once every event handed over so far has been answered (replies sent, commands responded). */
  async settled(): Promise<void> {
    await this.tasks.drain();
  }

  /** Resolves once the message is accepted (claimed) or ignored; rejects while stopping or when it cannot be claimed, so Slack delivers it again elsewhere or later. */
  private onMessage(e: SlackMessageEvent, envelopeTeam: string | undefined): Promise<unknown> {
    this.state.event();
    const me = this.me;
    if (!this.accepting || !me) return Promise.reject(new Error('slack adapter is not accepting messages (stopping)'));
    const where = classify(e, me);
    if (!where || !e.user) return Promise.resolve();
    const user = e.user;
    const teamId = envelopeTeam ?? e.team ?? me.teamId;
    // Normalizing waits on users.info; the chain keeps a thread's messages in arrival order into the engine.
    const handed = this.ordered.run(`${e.channel}:${where.threadId ?? ''}`, async () => {
      const info = await this.users.get(user);
      if (info.isBot) return undefined;
      return this.deps.handler.handle(toInbound(e, where, { me, teamId, user: info }));
    });
    this.track(handed.then((events) => events && this.outbound.deliverReply(events, this.replyTarget(e, where, teamId))));
    // A message that cannot be read (it failed normalizing; the log says why) is acknowledged:
    // Slack sending it again would fail the same way.
    return handed.then(
      (events) => events?.accepted,
      () => undefined,
    );
  }

  /** Replies go to the conversation's thread (a DM answers in the thread it was asked in, if any), to the person who spoke. */
  private replyTarget(e: SlackMessageEvent, where: { threadId?: string }, teamId: string): ReplyTarget {
    const target = this.keys.decode(chatOf({ platform: 'slack', chatId: e.channel, ...where }));
    return { ...target, ...(target.dm ? { threadTs: e.thread_ts } : {}), recipient: { userId: e.user ?? '', teamId }, tag: messageEventId(teamId, e.channel, e.ts) };
  }

  private onCommand(cmd: SlackCommand, respond: RespondFn): void {
    this.state.event();
    const me = this.me;
    if (!this.accepting || !me) return;
    const { command } = this.config;
    const menu = this.deps.commands;
    const answer = (text: string, wide = false) => respond({ response_type: wide ? 'in_channel' : 'ephemeral', text: toMrkdwn(slashify(menu, text, command)) });
    const run = async () => {
      const sub = parseSubcommand(menu, cmd.text, command);
      if (!sub.ok) return answer(sub.text);
      if (sub.sub === 'clear' && !isDmChannel(cmd.channel_id)) return answer(CLEAR_IN_CHANNEL);
      const user = await this.users.get(cmd.user_id);
      const notices: Array<{ text: string; ephemeral?: boolean; changesChat?: boolean }> = [];
      for await (const e of this.deps.handler.handle(commandToInbound(cmd, sub, user, cmd.team_id ?? me.teamId)) as AsyncIterable<ReplyEvent>) {
        if (e.type === 'notice') notices.push(e);
        else if (e.type === 'error') notices.push({ text: e.text, ephemeral: true });
      }
      if (!notices.length) return;
      await answer(notices.map((n) => n.text).join('\n\n'), notices.every((n) => isChannelWide(cmd.channel_id, n)));
    };
    this.track(run().catch((err: unknown) => this.deps.log.error({ err, command }, 'slack command failed')));
  }

  private track(p: Promise<unknown>): void {
    this.tasks.track(p.catch((err: unknown) => this.deps.log.error({ err }, 'slack message handling failed')));
  }
}

/**
 * Build the Slack adapter from `config.slack`.
 *
 * @example
 * const slack = createSlackAdapter(config.slack, { handler: engine, log, commands: commandMenu(engine.commands) });
 * const app = await buildApp({ ..., rawRoutes: slack.routes() }); // HTTP mode: /slack/events
 * await slack.start();
 */
export function createSlackAdapter(config: SlackAdapterConfig, deps: SlackAdapterDeps): SlackAdapter {
  return new SlackAdapter(config, deps);
}
