/**
 * Messages sent while no process was connected to Discord's gateway (a deploy, a crash, an
 * outage) are never dispatched to the next process: a new gateway session only sees what comes
 * after it. So at start the adapter reads them: for each channel where charbridge talked within
 * `windowMs`, the channel's messages after the newest one it had handled (one page of 100 over
 * REST), oldest first, through the same path as live ones. What the engine already has (a
 * message handled just before a crash, a gateway replay) is dropped by its claim.
 *
 * A server channel or thread it had never talked in cannot be found that way, so once the
 * gateway has listed the servers, each readable one whose newest message (from the channel list,
 * no request) is after the newest message handled anywhere is read from that point too: a first
 * message addressed to the bot there during the gap is answered. DMs cannot be listed at all:
 * their channels come from the previous gateway session, replayed (`gateway-replay.ts`).
 * Another process's start reading back meanwhile moves the recent chats past what it has not read
 * yet, so the gaps that starts still reading back noted (`gateway-session.ts`) count too (`widen`).
 * Without any recent chat (a first start) nothing tells when the gap began, and nothing is read.
 * A start while the database cannot be reached waits for it to list the recent chats, holding
 * every live message back meanwhile (none could be put on disk anyway).
 *
 * A channel's live messages wait while it is read, then follow the missed ones, so a chat's
 * messages are still answered in order. Channels are read a few at a time.
 */
import type { AdapterDeps, Log, RecentChat } from '../../src/core/adapter.js';
import { onceStoreAnswers } from '../shared/store-wait.js';
import { SNOWFLAKE, type DiscordTarget } from './keys.js';
import type { DcMessage } from './transport.js';

/** Discord's epoch: a snowflake's top bits are milliseconds since then. */
const DISCORD_EPOCH = 1_420_070_400_000n;
const AT_ONCE = 4;
/** Channels without a recent chat read back at most, most recently active first. */
const ACTIVE_MAX = 100;

/** A server channel or thread the bot may read, with the id of its newest message. */
export interface ActiveChannel {
  channelId: string;
  lastMessageId: string;
}

const newer = (a: string, b: string): string => (BigInt(a) > BigInt(b) ? a : b);
const older = (a: string, b: string): string => (BigInt(a) < BigInt(b) ? a : b);

export interface CatchUpDeps {
  recentChats: NonNullable<AdapterDeps['recentChats']>;
  decode(key: RecentChat['key']): DiscordTarget;
  /** The channel's messages after `after`, oldest first (one page). */
  messagesAfter(channelId: string, after: string): Promise<DcMessage[]>;
  /** Hand a message on as if the gateway had just dispatched it; false when it was not one to answer. */
  take(m: DcMessage): boolean;
  /** Channel `channelId` was read back, finding `messageIds` (told before they are handed on). */
  reading?(channelId: string, messageIds: readonly string[]): void;
  /** Server channels and threads the bot may read (known once the gateway is ready). */
  activeChannels(): ActiveChannel[];
  log: Log;
  now(): number;
  /** How a read waiting for the database pauses between tries (default: a timer). */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  windowMs: number;
}

export class CatchUp {
  /** Channels still to be read, with the live messages that arrived meanwhile. */
  private readonly held = new Map<string, DcMessage[]>();
  private readonly after = new Map<string, string>();
  /** The newest message handled in any recent chat (and not older than the window): the gap began after it. */
  private since: string | undefined;
  /** The oldest message a read back may start after: the window's start, as a snowflake. */
  private floor = '0';

  constructor(private readonly deps: CatchUpDeps) {}

  /** Where the gap this start reads back began (after `plan` and `widen`); undefined when nothing tells. */
  get gapStart(): string | undefined {
    return this.since;
  }

  /**
   * Other starts still reading back began their gaps at `gaps` (message ids): what they read
   * moved the recent chats `plan` saw, so the gap began no later than the oldest of them.
   */
  widen(gaps: readonly string[]): void {
    const own = this.since;
    for (const g of gaps) if (SNOWFLAKE.test(g)) this.since = older(this.since ?? g, newer(g, this.floor));
    if (this.since !== own) this.deps.log.debug({ since: own, from: this.since }, 'discord: another start is still reading back; reading back from where its gap began');
  }

  /** Which channels to read (call before the gateway delivers anything): their live messages wait from now on. */
  async plan(): Promise<void> {
    const since = this.deps.now() - this.deps.windowMs;
    let chats: RecentChat[];
    try {
      // Only this start can find what was missed: an unreachable database is waited for.
      const waiting = 'the recent chats, to read back what was sent while no process listened before any live message';
      chats = await onceStoreAnswers(() => this.deps.recentChats('discord', this.deps.windowMs), { log: this.deps.log, waiting, sleep: this.deps.sleep });
    } catch (err) {
      this.deps.log.warn({ err }, 'discord: could not list the recent chats; messages sent while no process listened are not caught up on');
      return;
    }
    // Older than the window is not answered, even after the newest handled message.
    const floor = (this.floor = ((BigInt(since) - DISCORD_EPOCH) << 22n).toString());
    for (const c of chats) {
      if (!SNOWFLAKE.test(c.lastEventId)) continue;
      let channelId: string;
      try {
        channelId = this.deps.decode(c.key).channelId;
      } catch {
        continue;
      }
      this.planRead(channelId, [c.lastEventId, floor, this.after.get(channelId) ?? '0'].reduce(newer));
      this.since = newer(c.lastEventId, this.since ?? floor);
    }
  }

  /**
   * Add the channels of messages Discord replayed from the previous process's gateway session
   * (DMs included): read from just before the first one, unless planned already.
   */
  planReplayed(messages: ReadonlyArray<{ channelId: string; messageId: string }>): void {
    const first = new Map<string, bigint>();
    for (const m of messages) {
      if (!SNOWFLAKE.test(m.messageId) || this.after.has(m.channelId)) continue;
      const id = BigInt(m.messageId);
      if (id < (first.get(m.channelId) ?? id + 1n)) first.set(m.channelId, id);
    }
    for (const [channelId, id] of first) this.planRead(channelId, (id - 1n).toString());
  }

  /**
   * Add the server channels with no recent chat whose newest message came after `since` (call
   * once the gateway is ready, before its messages are handed on).
   */
  planActive(): void {
    const since = this.since;
    if (since === undefined) return;
    const active = this.deps
      .activeChannels()
      .filter((c) => !this.after.has(c.channelId) && SNOWFLAKE.test(c.lastMessageId) && BigInt(c.lastMessageId) > BigInt(since))
      .sort((a, b) => (BigInt(a.lastMessageId) > BigInt(b.lastMessageId) ? -1 : 1));
    if (active.length > ACTIVE_MAX) this.deps.log.warn({ channels: active.length, read: ACTIVE_MAX }, 'discord: too many channels had messages while no process listened; reading back the most recently active');
    for (const c of active.slice(0, ACTIVE_MAX)) this.planRead(c.channelId, since);
  }

  /** Read `channelId` after message `after`; its live messages wait from now on. */
  private planRead(channelId: string, after: string): void {
    this.after.set(channelId, after);
    if (!this.held.has(channelId)) this.held.set(channelId, []);
  }

  /** Keep a live message back while its channel is being read; true when kept. */
  hold(m: DcMessage): boolean {
    const waiting = this.held.get(m.channelId);
    if (!waiting) return false;
    waiting.push(m);
    return true;
  }

  /** Read every planned channel, hand on what was missed, then what waited. */
  async run(): Promise<void> {
    // What is planned from now on (another instance's session replayed later) is another run's.
    const channels = [...this.after];
    this.after.clear();
    const planned = channels.length;
    let missed = 0;
    const next = async (): Promise<void> => {
      for (let c = channels.shift(); c; c = channels.shift()) {
        const [channelId, after] = c;
        try {
          const found = await this.deps.messagesAfter(channelId, after);
          const ids = found.map((m) => m.id);
          this.deps.reading?.(channelId, ids);
          this.deps.log.debug({ channelId, after, messageIds: ids, waited: this.held.get(channelId)?.length ?? 0 }, 'discord: read back a channel');
          for (const m of found) if (this.deps.take(m)) missed++;
        } catch (err) {
          this.deps.log.warn({ err, channelId }, 'discord: could not read what was sent to a channel while no process listened');
        } finally {
          const waiting = this.held.get(channelId) ?? [];
          this.held.delete(channelId);
          for (const m of waiting) this.deps.take(m);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, channels.length) }, next));
    if (planned) this.deps.log.info({ channels: planned, handedOn: missed }, 'discord: read what was sent while no process listened');
  }
}
