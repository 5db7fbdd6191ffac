/**
 * Keeps, in the adapters' notes (`SendMarks`), each shard's gateway session and the sequence up
 * to which its messages are safely with the engine, so the next process can have Discord replay
 * what came after (`gateway-replay.ts`) — including first messages in DMs, which no REST call can
 * list.
 *
 * The sequence noted stays behind the oldest message still on its way to the engine (held while
 * the start reads back, or not yet on disk): a crash replays it rather than skipping it. What
 * is replayed twice is dropped by the engine's claim. A message the gateway dispatched but that
 * never reached the adapter (discord.js drops some) stops holding the sequence back after a
 * minute, not counting time the database was unreachable: a message whose claim waits out an
 * outage is still on its way. Notes are written at most every `saveEveryMs`, and at stop, never
 * over the note of a process started later (a rolling deploy; see `write`).
 *
 * A replay ends the session it resumed, and this process's note then replaces the previous one.
 * So the channels of the messages replayed to this start are carried in its note (`carry`) until
 * each has been read back and every message read there is with the engine: a process that dies
 * before that leaves them to the next start, which reads them back as if it had replayed them.
 *
 * When instances run the same shards (a cluster without `DISCORD_SHARDS`), each hears every
 * event of them, and each notes its own session under its own key (`shared`), written every
 * `saveEveryMs` whether or not it changed: the note's time is its heartbeat. A note that stops
 * changing belongs to a process that died or stopped; any instance then replays that session
 * (`abandoned`), which gives back what only the dead one had heard — a first DM it had not put on
 * disk while its peers were down — and forgets the note.
 *
 * A start's read back moves the recent chats forward, past channels it has not read yet, so a
 * process starting meanwhile would judge the gap to have begun later than it did. Each note says,
 * until its process has read back all it planned (`openGap`), where its gap began (`gap`): a start
 * reads every such note (`gapsNoted`) and reads back from there too.
 */
import { randomBytes } from 'node:crypto';
import type { Log, SendMarks } from '../../src/core/adapter.js';
import type { ReplayedMessage, StoredSession } from './gateway-replay.js';

/** A channel messages were replayed in, to read back after `after`, and since when it has waited. */
export interface UnreadChannel {
  channelId: string;
  after: string;
  at: number;
}

/** A previous process's session, with the replayed channels it had not read back yet. */
export type NotedSession = StoredSession & { unread: UnreadChannel[] };

const STUCK_MS = 60_000;
/** How often a start looks again at notes that may be a live instance's. */
const START_POLL_MS = 500;
/** How long a shared note whose replay failed waits before it is tried again. */
const RETRY_REPLAY_MS = 60_000;
/** Message ids kept to tell what a replay needs no read back for: minutes of a busy bot's traffic. */
const RECENTLY_SETTLED = 20_000;
/** An unchanged note is written again this often: housekeeping prunes notes two days old. */
const REFRESH_MS = 3_600_000;

interface Shard {
  sessionId: string;
  resumeUrl: string;
  /** The newest sequence seen. */
  seq: number;
  /** Messages dispatched and not yet with the engine: id → sequence, when, and the database's downtime then. */
  pending: Map<string, { seq: number; at: number; down: number }>;
  saved: string | undefined;
  savedAt: number;
}

/** A note another process left under a shard's shared prefix, to replay and then forget. */
export type AbandonedSession = NotedSession & { key: string };

export class GatewaySessions {
  private readonly shards = new Map<number, Shard>();
  /** Names this process's notes when instances share shards. */
  private readonly processId: string;
  /** Since when every note write of this process has landed promptly (shared notes: what "silent" is judged by). */
  private writingSince: number | undefined;
  /** The last note write failed: the next failures are logged quietly (shared notes are written every few seconds). */
  private failing = false;
  /** Other processes' shared notes: the time each last said, and when this process first saw it say so. */
  private readonly watched = new Map<string, { at: number; since: number; retryAt?: number }>();
  /** Shared shards: the newest messages this process settled, oldest first (see `has`). */
  private readonly recentlySettled = new Set<string>();
  /** Notes carry it: a process never overwrites the note of one started after it (see `write`). */
  private readonly startedAt: number;
  private readonly yielded = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  /** Saves run one after another, so an older note never overwrites a newer one. */
  private saving: Promise<void> = Promise.resolve();
  /** Per shard: replayed channels not yet read back, and the messages read there not yet with the engine. */
  private readonly unread = new Map<number, Map<string, UnreadChannel & { awaiting?: Set<string> }>>();
  /** The gap this start reads back from, noted until all it read is with the engine (see `closeGap`). */
  private gap: { since: string; awaiting: Set<string>; closedAt?: number; down?: number } | undefined;

  constructor(
    private readonly marks: SendMarks,
    /** Names the bot (a hash of its token), so two bots sharing a database keep apart. */
    private readonly bot: string,
    private readonly deps: {
      log: Log;
      now(): number;
      saveEveryMs: number;
      /** Other instances run the same shards: note per process, and judge a note silent this long abandoned. */
      shared?: { staleMs: number };
      /** How a start waits to see whether another process's note changes (default: a timer). */
      sleep?(ms: number): Promise<void>;
      /** How long the database has been unreachable in all (`AdapterDeps.storeDowntime`). */
      downtime?(): number;
    },
  ) {
    this.startedAt = deps.now();
    this.processId = `${this.startedAt.toString(36)}-${randomBytes(4).toString('hex')}`;
  }

  /** Whether instances share shards, each noting its own session. */
  get shared(): boolean {
    return this.deps.shared !== undefined;
  }

  /** Every raw dispatch of a shard, in gateway order. */
  dispatched(shard: number, packet: { t?: string | null; s?: number | null; d?: any }): void {
    if (packet.t === 'READY' && typeof packet.d?.session_id === 'string' && typeof packet.d?.resume_gateway_url === 'string') {
      this.shards.set(shard, { sessionId: packet.d.session_id, resumeUrl: packet.d.resume_gateway_url, seq: packet.s ?? 0, pending: new Map(), saved: undefined, savedAt: 0 });
      return;
    }
    const s = this.shards.get(shard);
    if (!s || typeof packet.s !== 'number') return;
    s.seq = Math.max(s.seq, packet.s);
    if (packet.t === 'MESSAGE_CREATE' && typeof packet.d?.id === 'string') s.pending.set(packet.d.id, { seq: packet.s, at: this.deps.now(), down: this.downtime() });
  }

  /** The message is with the engine (on disk), or was not one to hand on. */
  settled(messageId: string): void {
    if (this.deps.shared) {
      this.recentlySettled.add(messageId);
      if (this.recentlySettled.size > RECENTLY_SETTLED) this.recentlySettled.delete(this.recentlySettled.values().next().value!);
    }
    for (const channels of this.unread.values()) {
      for (const [channelId, c] of channels) {
        if (c.awaiting?.delete(messageId) && c.awaiting.size === 0) channels.delete(channelId);
      }
    }
    this.gap?.awaiting.delete(messageId);
    for (const s of this.shards.values()) if (s.pending.delete(messageId)) return;
  }

  /** This start reads back what was sent after message `since`: its notes say so until `closeGap`. */
  openGap(since: string): void {
    this.gap = { since, awaiting: new Set() };
  }

  /** Everything planned was read back: the gap leaves the notes once what was read is with the engine. */
  closeGap(): void {
    if (this.gap) Object.assign(this.gap, { closedAt: this.deps.now(), down: this.downtime() });
  }

  /**
   * Where the gaps of starts still reading back began, as their notes (any shard, any process,
   * no earlier than `since`) say: what those starts read moves the recent chats past the rest.
   */
  async gapsNoted(since: number): Promise<string[]> {
    const notes = await this.marks.list(`discord:gateway:${this.bot}:`);
    return notes.flatMap(({ value }) => {
      const s = parse(value);
      return s?.gap !== undefined && s.at >= since ? [s.gap] : [];
    });
  }

  /**
   * Carry in `shard`'s note the channels of messages replayed to this start (and those a previous
   * start had not read back), until they are read back (`reading`) and their messages settled.
   */
  carry(shard: number, messages: readonly ReplayedMessage[], unread: readonly UnreadChannel[] = []): void {
    const channels = this.unread.get(shard) ?? new Map<string, UnreadChannel & { awaiting?: Set<string> }>();
    this.unread.set(shard, channels);
    const now = this.deps.now();
    const add = (channelId: string, after: string, at: number) => {
      const had = channels.get(channelId);
      if (!had) channels.set(channelId, { channelId, after, at });
      else if (BigInt(after) < BigInt(had.after)) had.after = after;
    };
    for (const u of unread) add(u.channelId, u.after, u.at);
    for (const m of messages) if (/^\d+$/.test(m.messageId)) add(m.channelId, (BigInt(m.messageId) - 1n).toString(), now);
  }

  /** Channel `channelId` was read back: it stays carried until each of `messageIds` has settled. */
  reading(channelId: string, messageIds: readonly string[]): void {
    for (const id of messageIds) this.gap?.awaiting.add(id);
    for (const channels of this.unread.values()) {
      const c = channels.get(channelId);
      if (!c) continue;
      if (messageIds.length) c.awaiting = new Set(messageIds);
      else channels.delete(channelId);
    }
  }

  /**
   * Note the sessions now (the previous process's note has just been replayed and ended) and
   * every `saveEveryMs` from now on; resolves once the first note is written (or failed).
   */
  start(): Promise<void> {
    this.timer ??= setInterval(() => void this.save(), this.deps.saveEveryMs);
    this.timer.unref();
    return this.save();
  }

  /** Stop noting; the last note is written now (call before the gateway closes). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.save();
  }

  /**
   * What a previous process noted for `shards`, no earlier than `since` (older is not answered
   * anyway), with the replayed channels it had not read back.
   */
  async stored(shards: readonly number[], since: number): Promise<NotedSession[]> {
    const found: NotedSession[] = [];
    for (const shard of shards) {
      const value = await this.marks.get(this.key(shard));
      const s = value === undefined ? undefined : parse(value);
      if (s && s.at >= since) found.push({ sessionId: s.sessionId, resumeUrl: s.resumeUrl, seq: s.seq, shard, unread: s.unread.filter((u) => u.at >= since) });
    }
    return found;
  }

  /**
   * Other processes' notes for `shards` (shared notes), no earlier than `since`, that are
   * abandoned: silent for `staleMs` while this process's own notes kept landing promptly (so a
   * database outage, failing or holding up everyone's writes, abandons no one).
   */
  async abandoned(shards: readonly number[], since: number): Promise<AbandonedSession[]> {
    const staleMs = this.deps.shared?.staleMs;
    if (staleMs === undefined) return [];
    const notes = await this.look(shards, since);
    const now = this.deps.now();
    if (this.writingSince === undefined || now - this.writingSince < staleMs) return [];
    return notes.filter((n) => n.silentFor >= staleMs && !(n.retryAt !== undefined && now < n.retryAt)).map((n) => n.session);
  }

  /**
   * At a start (nothing watched yet): the notes of processes that are gone. A note older than
   * three saves by the clock is; one younger is watched until it changes (its process lives) or
   * grows that old. A note a live process covers (it was running when the note last changed, so
   * it heard what the note's process did) is left to that process's `abandoned`, which reads back
   * only what it lacks.
   * Processes starting together after every instance was down heard none of it, so their notes
   * cover nothing. Waits at most three saves, and not at all without notes.
   */
  async abandonedAtStart(shards: readonly number[], since: number): Promise<AbandonedSession[]> {
    if (!this.deps.shared) return [];
    const goneMs = 3 * this.deps.saveEveryMs;
    const alive = new Map<string, number>();
    for (;;) {
      const notes = await this.look(shards, since);
      const now = this.deps.now();
      for (const n of notes) if (n.changed) alive.set(n.session.key, n.started);
      const covered = (n: (typeof notes)[number]) => [...alive.values()].some((started) => started <= n.at);
      const quiet = notes.filter((n) => !alive.has(n.session.key) && !covered(n));
      const waitFor = quiet.filter((n) => now - n.at < goneMs);
      if (!waitFor.length) return quiet.map((n) => n.session);
      const wait = Math.min(this.deps.saveEveryMs / 2, START_POLL_MS, goneMs - Math.min(...waitFor.map((n) => now - n.at)));
      await (this.deps.sleep ? this.deps.sleep(wait) : new Promise((r) => setTimeout(r, wait)));
    }
  }

  /** List the other processes' shared notes for `shards`, and note what this process saw of each. */
  private async look(shards: readonly number[], since: number) {
    const now = this.deps.now();
    const found: Array<{ session: AbandonedSession; at: number; started: number; changed: boolean; silentFor: number; retryAt: number | undefined }> = [];
    const listed = new Set<string>();
    for (const shard of shards) {
      for (const { key, value } of await this.marks.list(this.prefix(shard))) {
        if (key === this.key(shard)) continue;
        listed.add(key);
        const s = parse(value);
        if (!s || s.at < since) continue;
        const seen = this.watched.get(key);
        const same = seen !== undefined && seen.at === s.at;
        if (!same) this.watched.set(key, { at: s.at, since: now, ...(seen?.retryAt !== undefined ? { retryAt: seen.retryAt } : {}) });
        const session = { key, shard, sessionId: s.sessionId, resumeUrl: s.resumeUrl, seq: s.seq, unread: s.unread.filter((u) => u.at >= since) };
        found.push({ session, at: s.at, started: s.started, changed: seen !== undefined && !same, silentFor: same ? now - seen.since : 0, retryAt: seen?.retryAt });
      }
    }
    for (const key of this.watched.keys()) if (!listed.has(key)) this.watched.delete(key);
    return found;
  }

  /**
   * Whether this process has the message with the engine already (shared shards: it heard what
   * the dead one heard, unless it was down too); a replayed message it has needs no read back.
   */
  has(messageId: string): boolean {
    return this.recentlySettled.has(messageId);
  }

  /** A replay of the note at `key` failed: try it again in a minute, not at every look. */
  retryLater(key: string): void {
    const seen = this.watched.get(key);
    if (seen) seen.retryAt = this.deps.now() + RETRY_REPLAY_MS;
  }

  /** Drop a replayed note of another process. */
  async forget(key: string): Promise<void> {
    this.watched.delete(key);
    await this.marks.forget(key);
  }

  private downtime(): number {
    return this.deps.downtime?.() ?? 0;
  }

  private save(): Promise<void> {
    this.saving = this.saving.then(() => this.write());
    return this.saving;
  }

  /**
   * In a rolling deploy a new process runs the same shards before the old one stops, and both
   * note under the same keys. The newest process's note is the one to keep: the old one's
   * session ends with it (its last note, written at its stop, would be resumed after the new
   * one crashed, and would have lapsed by then), while the new one's is resumable. So a note is
   * not written over one from a process started later. Start times come from each machine's
   * clock: skew larger than the gap between two starts can make the old process look newer,
   * and then its note wins as it would without this rule.
   */
  private async write(): Promise<void> {
    const now = this.deps.now();
    const down = this.downtime();
    const gap = this.gap;
    // A message read back whose claim never lands (not counting an outage) stops holding the gap open after a minute.
    if (gap?.closedAt !== undefined && (gap.awaiting.size === 0 || now - gap.closedAt - (down - gap.down!) > STUCK_MS)) this.gap = undefined;
    for (const [shard, s] of this.shards) {
      if (this.yielded.has(shard)) continue;
      let seq = s.seq;
      for (const [id, p] of s.pending) {
        // Its claim waiting for the database is not stuck: a note past it, landing as the database
        // comes back and just before the claim does, would leave it to no replay if this process died then.
        if (now - p.at - (down - p.down) > STUCK_MS) s.pending.delete(id);
        else seq = Math.min(seq, p.seq - 1);
      }
      const unread = [...(this.unread.get(shard)?.values() ?? [])].map(({ channelId, after, at }) => [channelId, after, at]);
      const note = { sessionId: s.sessionId, resumeUrl: s.resumeUrl, seq, ...(unread.length ? { unread } : {}), ...(this.gap ? { gap: this.gap.since } : {}) };
      const value = JSON.stringify(note);
      // A shared note is written every time: its time says this process is alive.
      if (!this.shared && value === s.saved && now - s.savedAt < REFRESH_MS) continue;
      try {
        const noted = this.shared ? undefined : await this.marks.get(this.key(shard));
        const newer = noted === undefined ? undefined : parse(noted);
        if (newer && newer.started > this.startedAt) {
          this.yielded.add(shard);
          this.deps.log.info({ shard }, 'discord: a newer process runs this shard and notes its session now; this one stops noting it');
          continue;
        }
        await this.marks.put(this.key(shard), JSON.stringify({ ...note, at: now, started: this.startedAt }));
        s.saved = value;
        s.savedAt = now;
        this.failing = false;
        // A write the database held up (an outage waited out) held up everyone's: what looked
        // silent meanwhile says nothing, so watching starts again from the next prompt write.
        const landed = this.deps.now();
        if (landed - now > this.deps.saveEveryMs) this.writingSince = undefined;
        else this.writingSince ??= landed;
      } catch (err) {
        this.writingSince = undefined;
        const level = this.failing ? 'debug' : 'warn';
        this.failing = true;
        this.deps.log[level]({ err, shard }, 'discord: could not note the gateway session; a restart may not replay what it missed');
      }
    }
  }

  private key(shard: number): string {
    return this.deps.shared ? `${this.prefix(shard)}${this.processId}` : `discord:gateway:${this.bot}:${shard}`;
  }

  /** Where the processes sharing `shard` note their sessions. */
  private prefix(shard: number): string {
    return `discord:gateway:${this.bot}:${shard}:p:`;
  }
}

/** A stored note; `started` is when its process started (0 for notes from before it was kept). */
function parse(value: string): (Omit<NotedSession, 'shard'> & { at: number; started: number; gap?: string }) | undefined {
  try {
    const v = JSON.parse(value) as Partial<StoredSession & { at: number; started: number; unread: unknown; gap: unknown }>;
    const unread = Array.isArray(v.unread)
      ? v.unread.flatMap((u: unknown) =>
          Array.isArray(u) && typeof u[0] === 'string' && typeof u[1] === 'string' && /^\d+$/.test(u[1]) && typeof u[2] === 'number' ? [{ channelId: u[0], after: u[1], at: u[2] }] : [],
        )
      : [];
    return typeof v.sessionId === 'string' && typeof v.resumeUrl === 'string' && typeof v.seq === 'number' && typeof v.at === 'number'
      ? {
          sessionId: v.sessionId,
          resumeUrl: v.resumeUrl,
          seq: v.seq,
          at: v.at,
          started: typeof v.started === 'number' ? v.started : 0,
          unread,
          ...(typeof v.gap === 'string' && /^\d+$/.test(v.gap) ? { gap: v.gap } : {}),
        }
      : undefined;
  } catch {
    return undefined;
  }
}
