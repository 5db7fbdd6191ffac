import { LRUCache } from 'lru-cache';
import { createRequire } from 'node:module';
import type * as Flexible from 'rate-limiter-flexible';

/*
 * rate-limiter-flexible's index loads every store it supports (Redis, Mongo, DynamoDB, SQL…), about
 * 1 MB of heap a process that keeps limits in memory never uses; its memory store and result
 * class are each a file of their own. coord/redis.ts, loaded only with REDIS_URL, takes the index.
 */
const fromPackage = createRequire(import.meta.url);
const RateLimiterMemory = fromPackage('rate-limiter-flexible/lib/RateLimiterMemory.js') as typeof Flexible.RateLimiterMemory;
const RateLimiterRes = fromPackage('rate-limiter-flexible/lib/RateLimiterRes.js') as typeof Flexible.RateLimiterRes;
type RateLimiterMemory = Flexible.RateLimiterMemory;
type RateLimiterAbstract = Flexible.RateLimiterAbstract;

/** A rate limit's answer: a point was there (and is taken), or how long until one is. */
export type Verdict = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * Rate limits behind a narrow interface: the memory store, or Redis (rate-limiter-flexible's
 * RateLimiterRedis, same calls) when several processes share limits. A budget is `points` per
 * window of `seconds`, counted per key; each window is fixed, starting at its first point.
 */
export interface RateLimits {
  /** Take one point from `key`, whose budget is `perMinute`; say how long to wait when empty. */
  consume(key: string, perMinute: number): Promise<Verdict>;
  /**
   * Take one point from `key`'s budget of `points` per `seconds`: how many are left after it (0
   * when it was the last, or the budget was spent already) and when the window starts again.
   */
  spend(key: string, points: number, seconds: number): Promise<{ left: number; resetMs: number }>;
}

/** The key prefix of a budget's limiter; a per-minute one keeps the name it always had. */
export function budgetPrefix(points: number, seconds: number): string {
  return seconds === 60 ? `rl${points}` : `rl${points}per${seconds}`;
}

/** Limiters of every budget in use, one each, made on first use by `make`. */
export class Budgets<L extends RateLimiterAbstract> {
  private readonly limiters = new Map<string, L>();
  constructor(private readonly make: (points: number, seconds: number) => L) {}

  consume(key: string, perMinute: number): Promise<Verdict> {
    return takePoint(this.limiter(perMinute, 60), key);
  }

  async spend(key: string, points: number, seconds: number): Promise<{ left: number; resetMs: number }> {
    try {
      const res = await this.limiter(points, seconds).consume(key);
      return { left: res.remainingPoints, resetMs: res.msBeforeNext };
    } catch (res) {
      if (res instanceof RateLimiterRes) return { left: 0, resetMs: res.msBeforeNext };
      throw res;
    }
  }

  private limiter(points: number, seconds: number): L {
    const name = `${points}/${seconds}`;
    let limiter = this.limiters.get(name);
    if (!limiter) {
      limiter = this.make(points, seconds);
      this.limiters.set(name, limiter);
    }
    return limiter;
  }
}

export class MemoryRateLimits extends Budgets<RateLimiterMemory> implements RateLimits {
  constructor() {
    super((points, duration) => new RateLimiterMemory({ points, duration, keyPrefix: budgetPrefix(points, duration) }));
  }
}

/** One point from a rate-limiter-flexible limiter (any store), as our answer. */
export async function takePoint(limiter: RateLimiterAbstract, key: string): Promise<Verdict> {
  try {
    await limiter.consume(key);
    return { ok: true };
  } catch (res) {
    if (res instanceof RateLimiterRes) return { ok: false, retryAfterMs: Math.max(1, res.msBeforeNext) };
    throw res;
  }
}

/**
 * A second record that a platform message was answered, beside its claim's mark in the database,
 * kept where instances share one (Redis). The mark waits out a database restart; a reply sent
 * meanwhile would be sent again if its process died before the mark landed, and Telegram's Bot
 * API can neither take a send back nor be asked what it shows. This record lands in about a
 * millisecond, so a message taken over that finds it is marked answered instead of answered twice.
 */
export interface AnsweredNotes {
  note(eventKey: string): Promise<void>;
  /** False when not noted, and when the record cannot be read in time (then answered again, as without it). */
  noted(eventKey: string): Promise<boolean>;
}

/** Whether a rate-limited key should be told so now: one short notice per window. */
export interface Notices {
  shouldNotify(key: string, now: number, windowEndsAt: number): boolean | Promise<boolean>;
}

/**
 * One turn's place in its chat's line, when turns of a chat can arrive at several processes. It
 * has two parts, left one after the other: running (the turn's work) and sending (its reply's
 * delivery), so the next turn can run while this reply is still being sent, yet not send before it.
 */
/**
 * Whether a platform message (by event key) still owes its reply, asked of the database; with the
 * milliseconds that database has been unreachable so far, which waits bounded in time do not count
 * (the takeover or delivery they wait for waits on it too).
 */
export type OwedCheck = ((eventKey: string) => Promise<boolean>) & { downtime?: () => number };

/**
 * A stopwatch started now that leaves out what `downtime` (the database's time unreachable so
 * far) grows by meanwhile: how long a bounded wait has waited while the database answered.
 */
export function reachableStopwatch(downtime?: () => number): () => number {
  const start = Date.now();
  const down = downtime?.() ?? 0;
  return () => Date.now() - start - ((downtime?.() ?? 0) - down);
}

export interface ChatTicket {
  /**
   * Resolves when every earlier turn of the chat (on any instance) has finished running or died.
   * Given `owed`, an earlier platform message whose holder died (or handed it to the sweep) is
   * waited for while `owed` says it still owes its reply, as `waitToSend` does, up to a bound: its
   * takeover runs first even when it comes later than the dead holder's place lasts.
   */
  wait(owed?: OwedCheck): Promise<void>;
  /**
   * This turn is over: the next one in the chat may start. `sent`: give up sending too, in the
   * same call (the turn has no reply to deliver). Never rejects.
   */
  leave(opts?: { sent?: boolean }): Promise<void>;
  /**
   * Resolves when every earlier turn of the chat has left sending (its reply delivered) or died.
   * Given `owed`, an earlier platform message whose holder died is waited for while `owed` says
   * it still owes its reply (whoever takes it over delivers it first), up to a bound.
   */
  waitToSend(owed?: OwedCheck): Promise<void>;
  /** This turn's reply is delivered (or there is none): the next one may be sent. Never rejects. */
  sent(): Promise<void>;
  /**
   * Stop holding the place (both parts still held) without giving it up, as a dead holder would:
   * the message was handed to the recovery sweep, whose takeover holds the place again (`adopt`);
   * until then the chat's later turns wait for it to run, as long as an unrenewed place lasts, and
   * their replies wait while it owes its reply (`waitToSend`).
   */
  abandon(): void;
  /**
   * Entered for an event, this is the first place the line recorded for it: no instance took one
   * for it before, so there is none to take back (`adopt` would find this one).
   */
  readonly firstForEvent?: boolean;
  /** Its place's number in the line (`adopt` names the arrival place that stands in for a passed one). */
  readonly number?: number;
  /**
   * Resolves true when a line that started afresh moved this place in front of its first one: the
   * message arrived before that one's but entered the new line after it, while the line was being
   * rebuilt. The chat's turns queued behind it in this process then hold later places.
   */
  readonly movedAhead?: Promise<boolean>;
}

/** An unfinished platform message of a chat, as the database keeps its claim. */
export interface UnfinishedMessage {
  eventKey: string;
  /** Its owner is gone (dead or released): it waits to be taken over. */
  ownerGone: boolean;
  /** It arrived after `ownEventKey` (false without one): it comes after the asking turn, not before. */
  afterOwn: boolean;
}

/**
 * The unfinished messages of chat line `key` other than `ownEventKey` (without one, those that
 * arrived before now), at most `withinMs` old, oldest first, at most `limit`. `ownArrivedAt`: when
 * the asking message arrived, for while its claim has not landed (a fresh line's first turn asks as
 * its message arrives, and a later message of its platform batch may be claimed first).
 */
export type UnfinishedMessages = (key: string, q: { ownEventKey?: string | undefined; ownArrivedAt?: number | undefined; withinMs: number; limit: number }) => Promise<UnfinishedMessage[]>;

/** Per-chat turn order shared by instances: places are handed out in arrival order. */
export interface ChatOrder {
  /**
   * A place at the end of the line; `eventKey` (a platform message) records it for `adopt`, and
   * `arrivedAt` says when it arrived, should this place start the line afresh (`rebuildFrom`).
   */
  enter(key: string, eventKey?: string, arrivedAt?: number): Promise<ChatTicket>;
  /**
   * Where a line that starts afresh (its shared state lost) learns which of its chat's messages
   * still owe their replies: the first turn to enter it puts them back, those that came before
   * its own in front of itself and the rest behind it (each right after the latest earlier one
   * already in the line), so the chat's later replies still wait for them.
   */
  rebuildFrom?(unfinished: UnfinishedMessages): void;
  /**
   * For the instance that took event `eventKey` over from a dead one: the place the event took on
   * arrival, held again, if the line has not passed it — so the message is still answered before
   * the chat's later ones. Undefined otherwise.
   */
  adopt(key: string, eventKey: string, arrival?: ChatTicket): Promise<ChatTicket | undefined>;
}

/**
 * Remembers when a limited key was last told so, so a user over the limit gets one short
 * notice per window instead of one per message. Bounded: the least recently limited keys go
 * first, and an entry is only needed until its window ends.
 */
export class NoticeGate implements Notices {
  private readonly until = new LRUCache<string, number>({ max: 10_000 });

  shouldNotify(key: string, now: number, windowEndsAt: number): boolean {
    const prev = this.until.get(key);
    if (prev !== undefined && now < prev) return false;
    this.until.set(key, windowEndsAt);
    return true;
  }
}

/**
 * The global cap on concurrent model calls, shared fairly: waiters are grouped by owner (an API
 * key, a chat) and a freed slot goes to the next owner in turn, FIFO within an owner. One key
 * sending many requests at once waits behind itself, not in front of everyone else.
 */
export class Semaphore {
  /** Owners with waiters, in the order they will be served; each with its waiters, FIFO. */
  private readonly waiting = new Map<string, Array<() => void>>();
  private inUse = 0;
  constructor(private readonly max: number) {}

  /** Take a slot for `owner`; resolves with the function that gives it back. */
  async acquire(owner = ''): Promise<() => void> {
    if (this.inUse < this.max && this.waiting.size === 0) this.inUse++;
    else {
      await new Promise<void>((r) => {
        const queue = this.waiting.get(owner);
        if (queue) queue.push(r);
        else this.waiting.set(owner, [r]);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.handOver();
    };
  }

  get active(): number {
    return this.inUse;
  }

  /** Turns waiting for a slot. */
  get queued(): number {
    let n = 0;
    for (const q of this.waiting.values()) n += q.length;
    return n;
  }

  /** A slot came free: the owner first in line gets it, then moves to the back of the line. */
  private handOver(): void {
    const first = this.waiting.entries().next();
    if (first.done) {
      this.inUse--;
      return;
    }
    const [owner, queue] = first.value;
    const next = queue.shift()!;
    this.waiting.delete(owner);
    if (queue.length) this.waiting.set(owner, queue);
    next();
  }
}
