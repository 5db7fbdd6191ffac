import type { Logger } from '../log.js';
import { within } from '../core/timeout.js';
import type { Redis } from './redis-client.js';
import { luaScript } from './scripts.js';
import { ADOPT, ENTER, FRONT, LEAVE, MOVED, REBUILD } from './chat-order-scripts.js';
import { reachableStopwatch, type OwedCheck, type UnfinishedMessage, type UnfinishedMessages } from '../engine/limits.js';
import type { Bus, ChatOrder, ChatTicket } from './types.js';

/** How long an idle chat's counters are kept. */
const IDLE_MS = 86_400_000;
/** The room a fresh line leaves below its first place and above it: the most messages it puts back on each side. */
const REBUILD_ROOM = 32;
/** How long a fresh line's first turn may take to ask the database; past it the line goes on without. */
const REBUILD_LOOKUP_MS = 3000;
/** How long the rebuild mark holds the line if its turn's instance dies first. */
const REBUILD_MARK_MS = 5000;
/**
 * How long the record of which place a platform message took is kept: long enough for a turn to
 * be taken over while it waits in line, runs and is delivered (a delivery holds the line for at
 * most two minutes), short enough that one key per message stays small (~10 MB of Redis at 100
 * messages a second).
 */
const EVENT_RECORD_MS = 600_000;

export interface RedisChatOrderOptions {
  /**
   * How long after an instance dies its unfinished messages may still be waiting to be taken over
   * (INSTANCE_DEAD_AFTER_MS plus two heartbeats). A platform message's place lasts at least this
   * long after its holder stops renewing it, so the instance that takes the message over takes
   * its place too (`adopt`) and answers it before the chat's later messages.
   */
  takeoverMs?: number | undefined;
  /**
   * How long a turn waits to run, and its reply to be sent, at most, for an earlier message of its
   * chat whose holder died before answering it, while that message still owes its reply (two
   * minutes by default: as long as a live delivery may hold the line). Past it, order gives way so
   * that a chat is never held up.
   */
  goneHoldMs?: number | undefined;
}

/**
 * A chat's line, shared by every instance: each turn takes a numbered ticket on arrival (INCR,
 * so arrival order is ticket order) and runs when every lower ticket has left. A ticket stays
 * valid while its holder renews it; the ticket of an instance that died expires, and the next
 * in line skips it — a platform message's only once that message owes no reply (taken over and
 * answered, or not claimed while the platform could give it back), or after `goneHoldMs`: its
 * takeover may come later than the place lasts, and the chat's later turns must not run before
 * it (the model would see them first).
 * Turns of one chat therefore run one at a time and in arrival order, and a crash delays a chat
 * by at most one TTL (a platform message's, by its takeover).
 *
 * A ticket is two places in two such lines, kept by the same counters' logic: running (`done`,
 * `t:`) and sending (`sdone`, `s:`). A turn leaves running once its reply is stored and sending
 * once the reply is delivered, so the next turn's work overlaps this reply's sending while its
 * reply still goes out after this one.
 *
 * A line starts (new, idle for a day, or its Redis restarted without its data) at the server's
 * clock in milliseconds, not at 1, with its finished counts just below: a turn still holding a
 * ticket from before a data loss then holds a lower number than every new one, so its own looks
 * at the line (which skip and record the places in front of it) and its leaving cannot pass, take
 * or free a new turn's place.
 *
 * The messages that were waiting when the data went are not in the new line, yet still owe their
 * replies before the chat's later ones. So a line that starts afresh leaves room below its first
 * place and above it, and (with `rebuildFrom`) its first turn asks the database for the chat's
 * unfinished messages and puts them back there in arrival order, before any turn may look past
 * them: those that arrived before its own message below it, those after it (the first turn may be
 * an older message, taken over) above it, each right behind the latest message before it that is
 * in the new line (places taken while the database is asked leave room behind them too; one that
 * entered ahead of a message that arrived before it, as turns that waited out Redis get through in
 * any order, is moved behind that one, and its holder takes the new place). A
 * dead instance's message holds the running part until it is taken over, as its own place would
 * have; a live one's (still answered by a turn from before the loss) is waited for, in both
 * parts, while it owes its reply, and that turn, if it has not run yet, takes the place kept for
 * its message and waits there, or starts the new line itself when nobody has (`relocate`). An
 * earlier message that entered the new line behind the first place while the database was asked
 * (taken over just as the line started) is moved below it: its holder takes the new place once
 * the rebuild is done (`movedAhead`). Should the first turn die before filling the room, the room
 * stays owed: every place taken meanwhile follows moves, and the first of them to find the mark
 * lapsed fills it in that turn's stead, asking about the first place's message (a proactive
 * turn's place has none: every unfinished message of the chat then counts as before it).

 *
 * (A plain mutex would give mutual exclusion but not order: whoever polls first wins.)
 */
export class RedisChatOrder implements ChatOrder {
  private readonly enterScript;
  private readonly enterEventScript;
  private readonly adoptScript;
  private readonly adoptInsteadScript;
  private readonly frontScript;
  private readonly frontBothScript;
  private readonly leaveScript;
  private readonly leaveSendingScript;
  private readonly leaveBothScript;
  private readonly rebuildScript;
  private readonly movedScript;
  private unfinished: UnfinishedMessages | undefined;
  /** How long the place of a message that can be taken over lasts without renewal. */
  private readonly eventTtlMs: number;
  private readonly goneHoldMs: number;
  /** Waiting tickets by chat key: woken when another turn of the chat leaves. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly redis: Redis,
    private readonly bus: Bus,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
    opts: RedisChatOrderOptions = {},
  ) {
    this.enterScript = luaScript(redis, 'cbChatEnter10', 7, ENTER);
    this.enterEventScript = luaScript(redis, 'cbChatEnterEvent10', 9, ENTER);
    this.adoptScript = luaScript(redis, 'cbChatAdopt4', 7, ADOPT);
    this.adoptInsteadScript = luaScript(redis, 'cbChatAdoptInstead4', 8, ADOPT);
    this.frontScript = luaScript(redis, 'cbChatFrontSending6', 4, FRONT);
    this.frontBothScript = luaScript(redis, 'cbChatFrontBoth7', 6, FRONT);
    this.rebuildScript = luaScript(redis, 'cbChatRebuild6', 7, REBUILD);
    this.movedScript = luaScript(redis, 'cbChatMoved2', 4, MOVED);
    this.leaveScript = luaScript(redis, 'cbChatLeave2', 3, LEAVE);
    this.leaveSendingScript = luaScript(redis, 'cbChatLeaveSending', 4, LEAVE);
    this.leaveBothScript = luaScript(redis, 'cbChatLeaveBoth2', 6, LEAVE);
    // Renewed every third of it, a place outlives its dead holder by at least two thirds of its TTL.
    this.eventTtlMs = Math.max(ttlMs, Math.ceil(((opts.takeoverMs ?? 0) * 3) / 2) + 1000);
    this.goneHoldMs = opts.goneHoldMs ?? 120_000;
    bus.subscribe('chat-left', (key) => {
      for (const wake of this.waiters.get(key) ?? []) wake();
    });
  }

  private keys(key: string) {
    const base = `${this.prefix}chat:${key}:`;
    return {
      next: `${base}next`,
      done: `${base}done`,
      alive: `${base}t:`,
      sendDone: `${base}sdone`,
      sending: `${base}s:`,
      event: (eventKey: string) => `${base}ev:${eventKey}`,
      events: `${base}ev:`,
      /** Set while a fresh line's first turn puts the chat's earlier messages back (its ticket). */
      rebuilding: `${base}rebuild`,
      /** `<first ticket>:<its message's arrival>` of a fresh line until its room is filled, even if that turn died first. */
      rebuildOwed: `${base}rebuild-owed`,
      /** Ticket → the platform message its place stands for (the first place the line recorded for it). */
      placeEvent: `${base}te:`,
      /** Ticket → the place REBUILD moved it to, in front of a fresh line's first place. */
      moved: `${base}mv:`,
    };
  }

  /**
   * A new place at the end of chat `key`'s line. With `eventKey` (a platform message, which
   * another instance takes over if this one dies), the place is recorded for `adopt`; `arrivedAt`
   * (its arrival) is what a rebuild this place starts asks with, its claim not having landed yet.
   */
  async enter(key: string, eventKey?: string, arrivedAt?: number): Promise<ChatTicket> {
    const ttl = eventKey === undefined ? this.ttlMs : this.eventTtlMs;
    const [ticket, first, fresh, marked] = await this.enterLine(key, eventKey, false, arrivedAt);
    this.log.debug({ chat: key, ticket, eventKey, first: first === 1, fresh: fresh === 1 }, 'entered the chat line');
    const rebuilt = fresh === 1 ? this.rebuild(key, ticket!, eventKey, arrivedAt) : undefined;
    return this.place(key, ticket!, { running: true, sending: true }, ttl, { firstForEvent: eventKey !== undefined && first === 1, ownEvent: eventKey, rebuilt, mayMove: marked === 1 && eventKey !== undefined, arrivedAt });
  }

  /**
   * The `ENTER` script: {ticket, first place recorded for the event, line fresh, room being filled}.
   * `freshOnly`: take a place only if the line is fresh (all zeros otherwise).
   */
  private async enterLine(key: string, eventKey: string | undefined, freshOnly = false, arrivedAt?: number): Promise<number[]> {
    const k = this.keys(key);
    const keys = [k.next, k.done, k.alive, k.sendDone, k.sending, k.rebuilding, k.rebuildOwed];
    const ttl = eventKey === undefined ? this.ttlMs : this.eventTtlMs;
    const args = [ttl, IDLE_MS, this.unfinished ? REBUILD_MARK_MS : 0, EVENT_RECORD_MS, eventKey ?? '', REBUILD_ROOM, freshOnly ? 1 : 0, arrivedAt ?? ''];
    const answer = eventKey === undefined ? this.enterScript(keys, args) : this.enterEventScript([...keys, k.event(eventKey), k.placeEvent], args);
    return ((await answer) as number[]).map(Number);
  }

  /** `look` again whenever the chat's line moves (or `pollMs` passes), until it answers. */
  private async lookUntil<T>(key: string, pollMs: number, look: () => Promise<T | undefined>): Promise<T> {
    for (;;) {
      const heard = this.listen(key, pollMs);
      try {
        const answer = await look();
        if (answer !== undefined) return answer;
        await heard.woke;
      } finally {
        heard.stop();
      }
    }
  }

  rebuildFrom(unfinished: UnfinishedMessages): void {
    this.unfinished = unfinished;
  }

  /**
   * Put the chat's unfinished messages back around `ticket`, the first place of a line that
   * started afresh (those that arrived before its message below it, the rest above it), and let
   * the line go on. Never rejects: without the database the line goes on as it is (the mark lifts
   * by itself if this does not finish).
   */
  private async rebuild(key: string, ticket: number, eventKey: string | undefined, arrivedAt: number | undefined): Promise<void> {
    const k = this.keys(key);
    let found: UnfinishedMessage[] = [];
    try {
      const lookup = this.unfinished!(key, { ownEventKey: eventKey, ownArrivedAt: arrivedAt, withinMs: EVENT_RECORD_MS, limit: 2 * REBUILD_ROOM });
      found = await within(lookup, REBUILD_LOOKUP_MS, (): never => {
        throw new Error(`no answer within ${REBUILD_LOOKUP_MS} ms`);
      });
    } catch (err) {
      this.log.warn({ err, chat: key }, "could not read a chat's unfinished messages for its line, which Redis no longer has; its next replies may overtake them");
    }
    try {
      const before = found.filter((e) => !e.afterOwn).slice(0, REBUILD_ROOM);
      const after = found.filter((e) => e.afterOwn).slice(0, REBUILD_ROOM);
      const listed = [...before, ...after].flatMap((e) => [e.eventKey, e.ownerGone ? 1 : 0]);
      const put = Number(await this.rebuildScript([k.rebuilding, k.alive, k.placeEvent, k.events, k.sending, k.moved, k.rebuildOwed], [ticket, this.eventTtlMs, EVENT_RECORD_MS, before.length, REBUILD_ROOM, ...listed]));
      if (found.length) this.log.info({ chat: key, ticket, before: before.length, after: after.length, put }, "a chat line started afresh: put back the chat's messages that still owe their replies");
    } catch (err) {
      this.log.warn({ err, chat: key }, "could not put a chat's unfinished messages back in its line; it goes on once the mark expires");
    }
    this.bus.publish('chat-left', key);
  }

  /**
   * Where the fresh line's rebuild moved place `ticket` (0: nowhere), or -1 while its room is
   * still being filled. When the line's first turn died before filling the room (its mark lapsed,
   * the room still owed), the caller fills it in that turn's stead, asking about the first place's
   * message, and is told -1 (look again).
   */
  private async movedTo(key: string, ticket: number): Promise<number> {
    const k = this.keys(key);
    const [state, at, firstEvent, firstArrived] = (await this.movedScript([k.rebuilding, k.moved, k.rebuildOwed, k.placeEvent], [ticket, REBUILD_MARK_MS, this.unfinished ? 1 : 0])) as unknown[];
    if (Number(state) === 2) {
      this.log.info({ chat: key, ticket, first: Number(at) }, "a fresh chat line's first turn died before putting the chat's earlier messages back: another turn puts them back");
      await this.rebuild(key, Number(at), firstEvent ? String(firstEvent) : undefined, firstArrived ? Number(firstArrived) : undefined);
      return -1;
    }
    return Number(state) === -1 ? -1 : Number(at ?? 0);
  }

  /**
   * The place event `eventKey` took when it first arrived, for the instance that took the event
   * over from a dead one: the parts of it the line has not passed are held again, so the chat's
   * later turns still wait for this one. Undefined when the event had no place or the line has
   * passed it (its holder's place expired and a later turn went on).
   */
  async adopt(key: string, eventKey: string, arrival?: ChatTicket): Promise<ChatTicket | undefined> {
    const k = this.keys(key);
    const keys = [k.event(eventKey), k.done, k.alive, k.sendDone, k.sending];
    const arrived = arrival?.number;
    const [ticket, running, sending, marked, owed] = (
      (await (arrived === undefined
        ? this.adoptScript([...keys, k.rebuilding, k.rebuildOwed], [this.eventTtlMs])
        : this.adoptInsteadScript([...keys, k.placeEvent, k.rebuilding, k.rebuildOwed], [this.eventTtlMs, arrived, EVENT_RECORD_MS, eventKey]))) as number[]
    ).map(Number);
    this.log.debug({ chat: key, eventKey, ticket, running, sending }, 'took back a place in the chat line');
    if (!ticket || (!running && !sending)) return undefined;
    // A fresh line's room still owed: its turn may have died, and the rebuild may yet move this place.
    return this.place(key, ticket!, { running: running === 1, sending: sending === 1 }, this.eventTtlMs, { ownEvent: eventKey, mayMove: marked === 1 || owed === 1 });
  }

  /**
   * A platform turn whose place Redis lost (it held a ticket from before a data loss, which the
   * new line does not know) asks the database which of its chat's messages came before it and
   * still owe their replies, and waits for each before sending — at most `goneHoldMs` in all, as
   * for a dead instance's place. Never rejects: without the database it sends as before. (Not
   * before running: this process's queue would hold an earlier message taken over here into a new
   * place behind the waiting turn, for the whole of `goneHoldMs`.)
   */
  private async waitForEarlier(key: string, ticket: number, ownEvent: string, owed: OwedCheck): Promise<void> {
    let found: UnfinishedMessage[];
    try {
      found = (await this.unfinished!(key, { ownEventKey: ownEvent, withinMs: EVENT_RECORD_MS, limit: REBUILD_ROOM })).filter((e) => !e.afterOwn);
    } catch (err) {
      this.log.warn({ err, chat: key, ticket }, "could not read a chat's earlier unfinished messages for a turn whose place Redis lost; its reply may overtake them");
      return;
    }
    const since = Date.now();
    const waited = reachableStopwatch(owed.downtime);
    const pollMs = Math.max(100, Math.floor(this.ttlMs / 5));
    for (const e of found) {
      while (waited() < this.goneHoldMs && (await owed(e.eventKey).catch(() => false))) await new Promise((r) => setTimeout(r, pollMs));
    }
    if (found.length) this.log.info({ chat: key, ticket, earlier: found.length, waitedMs: Date.now() - since }, "a turn whose place Redis lost waited for the chat's earlier messages before sending");
  }

  /**
   * Listen for the chat's next `chat-left` (any instance), or `pollMs`: registered before the caller
   * looks at the line, so a leave between that look and the wait is not missed.
   */
  private listen(key: string, pollMs: number): { woke: Promise<void>; stop: () => void } {
    let woken: () => void = () => undefined;
    const woke = new Promise<void>((r) => (woken = r));
    const set = this.waiters.get(key) ?? new Set();
    set.add(woken);
    this.waiters.set(key, set);
    const timer = setTimeout(woken, pollMs);
    return {
      woke,
      stop: () => {
        clearTimeout(timer);
        set.delete(woken);
        if (!set.size && this.waiters.get(key) === set) this.waiters.delete(key);
      },
    };
  }

  /**
   * Ticket `entered` of chat `key`, holding the parts in `held` (renewed every third of `ttl` until
   * left). `mayMove`: taken while a fresh line's room was being filled, so the rebuild may move it
   * (`movedAhead`): in front of the line's first place, or behind a message that arrived before it.
   */
  private place(
    key: string,
    entered: number,
    held: Record<Part, boolean>,
    ttl: number,
    o: { firstForEvent?: boolean; ownEvent?: string | undefined; rebuilt?: Promise<void> | undefined; mayMove?: boolean; arrivedAt?: number | undefined } = {},
  ): ChatTicket {
    const { ownEvent, rebuilt } = o;
    const k = this.keys(key);
    let ticket = entered;
    // Keep the places held while waiting, while the turn runs and until its reply is delivered.
    const lost = new Set<Part>();
    const renew = setInterval(() => {
      for (const [part, prefix] of [['running', k.alive], ['sending', k.sending]] as const) {
        if (!held[part]) continue;
        void this.redis.pexpire(`${prefix}${ticket}`, ttl).then(
          (ok) => {
            // Said once per place: every later renewal finds it gone too.
            if (ok !== 0 || !held[part] || lost.has(part)) return;
            lost.add(part);
            this.log.warn({ chat: key, ticket, part }, 'a turn lost its place in the chat line (Redis was unreachable longer than CHAT_LOCK_TTL_MS, or lost its data)');
          },
          () => undefined,
        );
      }
    }, Math.max(200, Math.floor(ttl / 3)));
    renew.unref();

    /** Set once every lower ticket has left sending (or died): seen by the running part's last check. */
    let sendClear = false;
    /** A gone place in front (sending) that stands for a platform message, which may still owe its reply. */
    let gone: GonePlace | undefined;
    /** This turn's own sending place was gone (Redis lost it): the line no longer knows what was in front. */
    let placeLost = false;
    let askedEarlier = false;
    /**
     * Whether every lower ticket has left `part` of the line (or died). `holdGone`: the running part
     * too stops at a dead holder's platform message (`gone`), for the caller to wait while it is owed.
     */
    const front = async (part: Part, holdGone = false): Promise<boolean> => {
      gone = undefined;
      const seen = (sending: unknown, inFront: unknown, event: unknown, mine: unknown) => {
        if (Number(inFront) > 0) gone = { ticket: Number(inFront), eventKey: String(event) };
        if (Number(mine) === 0 && held.sending) placeLost = true;
        return (sendClear ||= Number(sending) >= ticket - 1);
      };
      if (part === 'sending') {
        if (sendClear) return true;
        const [sending, inFront, event, mine] = (await this.frontScript([k.sendDone, k.sending, k.placeEvent, k.rebuilding], [ticket, IDLE_MS])) as unknown[];
        return seen(sending, inFront, event, mine);
      }
      const [running, sending, inFront, event, mine] = (await this.frontBothScript([k.done, k.alive, k.sendDone, k.sending, k.placeEvent, k.rebuilding], [ticket, IDLE_MS, holdGone ? 1 : 0])) as unknown[];
      seen(sending, inFront, event, mine);
      return Number(running) >= ticket - 1;
    };
    /** How long this turn has waited for each gone place in its way, the database's time away left out. */
    const goneFor = new Map<number, () => number>();
    /**
     * Whether the gone place in front may be passed: its message owes no reply any more (answered,
     * or not claimed while the platform could give it back), or it was waited for as long as a
     * reply may hold the line. Passed, its record is dropped and the next look skips it.
     */
    const mayPass = async (place: GonePlace, owed: OwedCheck | undefined): Promise<boolean> => {
      // An earlier place of this same message (an arrival that died before recording it, or one
      // not taken back): it owes nothing this turn is not about to send.
      if (place.eventKey === ownEvent) return this.redis.del(`${k.placeEvent}${place.ticket}`).then(() => true);
      // The database's time away does not count: the takeover this waits for waits on it too.
      const stopwatch = goneFor.get(place.ticket) ?? reachableStopwatch(owed?.downtime);
      goneFor.set(place.ticket, stopwatch);
      const waited = stopwatch();
      if (owed && waited < this.goneHoldMs && (await owed(place.eventKey).catch(() => true))) return false;
      this.log.debug({ chat: key, ticket, gone: place.ticket, eventKey: place.eventKey, waitedMs: waited }, 'passed the gone place of a message that owes no reply');
      if (owed && waited >= this.goneHoldMs) this.log.warn({ chat: key, ticket: place.ticket, waitedMs: waited }, "a dead instance's message was not delivered in time; the chat's later turns and replies go on without waiting for it");
      await this.redis.del(`${k.placeEvent}${place.ticket}`);
      return true;
    };
    /** Clear to send in the line: a turn whose place Redis lost still waits for what the database says came first. */
    const cleared = async (owed: OwedCheck | undefined): Promise<void> => {
      if (!placeLost || askedEarlier || ownEvent === undefined || !owed || !this.unfinished) return;
      askedEarlier = true;
      await this.waitForEarlier(key, ticket, ownEvent, owed);
    };
    const pollMs = Math.max(100, Math.floor(this.ttlMs / 5));
    /** Set once a look for a kept place found none: the turn runs where it is (a move clears it, since Redis may lose the new place too). */
    let relocated = false;
    /**
     * This turn's place was lost with Redis's data before it ran: take the place the rebuilt line
     * keeps for its message, if the line was rebuilt with it (waiting while a rebuild is under
     * way, or filling the room itself when the line's first turn died first), or, when no turn
     * has started the new line yet, start it with this message, rebuilt around it; and wait there
     * — behind the chat's earlier messages, which the rebuild put in front. True when it moved;
     * otherwise it runs now, as before, and waits before sending. A turn that moved does this
     * again if Redis loses its new place too (before it runs).
     */
    const relocate = async (): Promise<boolean> => {
      relocated = true;
      const begun = Date.now();
      let startTried = false;
      /** Hold `parts` of place `to` instead of the lost one; true when the turn waits there to run. */
      const moveTo = (to: number, parts: Record<Part, boolean>, how: string): boolean => {
        this.log.info({ chat: key, from: ticket, to, eventKey: ownEvent, ...parts }, `a turn whose place Redis lost ${how}`);
        ticket = to;
        held.running = parts.running;
        held.sending = parts.sending;
        placeLost = false;
        sendClear = false;
        relocated = false;
        lost.clear();
        return held.running;
      };
      try {
        return await this.lookUntil(key, pollMs, async () => {
          const keys = [k.event(ownEvent!), k.done, k.alive, k.sendDone, k.sending, k.rebuilding, k.rebuildOwed];
          const [to, running, sending, marked, owed] = ((await this.adoptScript(keys, [this.eventTtlMs])) as number[]).map(Number);
          if (to && to !== ticket && (running || sending)) return moveTo(to, { running: running === 1, sending: sending === 1 }, 'took the place the rebuilt line keeps for its message');
          // The new line's first turn died before putting the chat's messages back: fill its room, then look again.
          if (!to && !marked && owed && (await this.movedTo(key, ticket)) < 0) return undefined;
          if (!to && !marked && this.unfinished && !startTried) {
            startTried = true;
            const [started] = await this.enterLine(key, ownEvent, true, o.arrivedAt);
            if (!started) return undefined; // another turn started it meanwhile: its rebuild keeps a place for this message
            moveTo(started, { running: true, sending: true }, 'started the new chat line with its message');
            await this.rebuild(key, started, ownEvent, o.arrivedAt);
            return true;
          }
          return !marked || Date.now() - begun > REBUILD_MARK_MS ? false : undefined;
        });
      } catch (err) {
        this.log.warn({ err, chat: key, ticket }, 'could not look for the place a rebuilt chat line keeps for this message; it runs without it');
        return false;
      }
    };
    const waitFor = async (part: Part, owed?: OwedCheck): Promise<void> => {
      for (;;) {
        if (part === 'sending' && sendClear) return cleared(owed);
        const heard = this.listen(key, pollMs);
        try {
          // Without `owed` (nothing to ask of a gone place's message), running skips gone places.
          if (await front(part, owed !== undefined)) {
            if (part === 'running' && placeLost && ownEvent !== undefined && !relocated && (await relocate())) continue;
            return part === 'sending' ? await cleared(owed) : undefined;
          }
          if (gone && (await mayPass(gone, owed))) continue;
          await heard.woke;
        } finally {
          heard.stop();
        }
      }
    };

    /** Give up `giving` of place `at` (this turn's, or the one it moved from). */
    const leaveAt = async (at: number, giving: Part[]): Promise<void> => {
      const pairs = giving.flatMap((p) => (p === 'running' ? [k.done, k.alive] : [k.sendDone, k.sending]));
      const sending = giving.includes('sending');
      this.log.debug({ chat: key, ticket: at, parts: giving }, 'leaving the chat line');
      try {
        const script = pairs.length === 4 ? this.leaveBothScript : sending ? this.leaveSendingScript : this.leaveScript;
        // Only a later ticket can be waiting for this one: without one there is nobody to wake.
        if (Number(await script([k.next, ...pairs, ...(sending ? [k.placeEvent] : [])], [at, IDLE_MS])) === 1) this.bus.publish('chat-left', key);
      } catch (err) {
        // The place expires by itself; the next turn waits at most one TTL.
        this.log.warn({ err, chat: key, ticket: at, parts: giving }, 'could not leave the chat line; the next turn waits for its expiry');
      }
    };
    const leave = async (parts: Part[]): Promise<void> => {
      const giving = parts.filter((p) => held[p]);
      if (!giving.length) return;
      for (const p of giving) held[p] = false;
      if (!held.running && !held.sending) clearInterval(renew);
      await leaveAt(ticket, giving);
    };
    /**
     * Once a fresh line's room is filled, whether the rebuild moved this place to keep arrival
     * order: in front of the line's first one (its message arrived before that one's, but entered
     * the line after it), or behind a message that arrived before it but entered after it. The
     * turn then holds the new place, which the rebuild holds for it until then, and gives up this one.
     */
    const followMove = async (): Promise<boolean> => {
      try {
        return await this.lookUntil(key, pollMs, async () => {
          const to = await this.movedTo(key, ticket);
          if (to < 0) return undefined; // the room is still being filled
          if (to === 0) return false;
          // A turn that already gave its place up (the line failed under it) has nothing to move.
          if (!held.running || !held.sending) return false;
          const from = ticket;
          ticket = to;
          this.log.info({ chat: key, from, to, eventKey: ownEvent }, "a message that entered a fresh chat line out of arrival order took the place the rebuild kept for it");
          await leaveAt(from, ['running', 'sending']);
          return true;
        });
      } catch (err) {
        this.log.warn({ err, chat: key, ticket }, 'could not learn whether a fresh chat line moved this place; it stays where it is');
        return false;
      }
    };
    const movedAhead = o.mayMove ? followMove() : Promise.resolve(false);
    return {
      get number() {
        return ticket;
      },
      firstForEvent: o.firstForEvent ?? false,
      movedAhead,
      wait: async (owed) => {
        await rebuilt;
        await movedAhead;
        await waitFor('running', owed);
      },
      leave: (opts) => leave(opts?.sent ? ['running', 'sending'] : ['running']),
      waitToSend: async (owed) => {
        await rebuilt;
        await movedAhead;
        await waitFor('sending', owed);
      },
      abandon: () => {
        held.running = false;
        held.sending = false;
        clearInterval(renew);
      },
      sent: () => leave(['sending']),
    };
  }
}

type Part = 'running' | 'sending';
interface GonePlace {
  ticket: number;
  eventKey: string;
}
