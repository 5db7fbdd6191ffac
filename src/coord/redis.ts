import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { Mutex } from 'redis-semaphore';
import { Budgets, budgetPrefix, type RateLimits } from '../engine/limits.js';
import type { Logger } from '../log.js';
import { RedisPresence } from './presence.js';
import { MirroredSendMarks } from './send-marks.js';
import { RedisChatOrder } from './chat-order.js';
import { RedisSharedWindow } from './shared-window.js';
import { RedisSharedTally } from './shared-tally.js';
import { RedisIdentifyGate } from './identify-gate.js';
import { ClusterJobs } from './jobs.js';
import { Reseeder } from './reseed.js';
import { validateCron } from '../scheduler/cron.js';
import { connectRedis, isRedisStarting, redactRedisUrl, whenReady, type Redis } from './redis-client.js';
import { waitForServer, type StartupWait } from '../core/startup-wait.js';
import { within } from '../core/timeout.js';
import type { AnsweredNotes, Notices as NoticeGate } from '../engine/limits.js';
import type { Bus, Coordination, Leadership } from './types.js';
import type { CoordinationSettings } from './config.js';

/**
 * Limits every instance counts together (rate-limiter-flexible's Redis store). While Redis cannot
 * answer, each instance counts on its own (the library's insurance limiter, in memory): a limit
 * that holds per instance for a while, rather than every message failing.
 */
export class RedisRateLimits extends Budgets<RateLimiterRedis> implements RateLimits {
  constructor(redis: Redis, prefix: string) {
    super((points, duration) => {
      const keyPrefix = budgetPrefix(points, duration);
      const insuranceLimiter = new RateLimiterMemory({ points, duration, keyPrefix });
      return new RateLimiterRedis({ storeClient: redis, points, duration, keyPrefix: `${prefix}${keyPrefix}`, insuranceLimiter });
    });
  }
}

/** One notice per limited key and window, whichever instance the next message lands on (while Redis cannot answer: the notice is sent). */
export class RedisNoticeGate implements NoticeGate {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}
  async shouldNotify(key: string, now: number, windowEndsAt: number): Promise<boolean> {
    try {
      const r = await this.redis.set(`${this.prefix}notice:${key}`, '1', 'PX', Math.max(1, windowEndsAt - now), 'NX');
      return r === 'OK';
    } catch {
      return true;
    }
  }
}

/** How long an answered platform message's record is kept: longer than any claim waits to be taken over. */
const ANSWERED_MS = 600_000;
/** How long a takeover waits to read the record; past that (Redis restarting) it answers again, as without one. */
const ANSWERED_READ_MS = 1000;

/** Answered platform messages, one expiring key each (~100 bytes; 6 MB at 100 messages a second). */
export class RedisAnsweredNotes implements AnsweredNotes {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async note(eventKey: string): Promise<void> {
    await this.redis.set(`${this.prefix}answered:${eventKey}`, '1', 'PX', ANSWERED_MS);
  }

  async noted(eventKey: string): Promise<boolean> {
    try {
      return (await within(this.redis.exists(`${this.prefix}answered:${eventKey}`), ANSWERED_READ_MS, () => 0)) === 1;
    } catch {
      return false;
    }
  }
}

/** Pub/sub: one connection subscribes (a subscribed connection can do nothing else). */
class RedisBus implements Bus {
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();
  constructor(private readonly pub: Redis, private readonly sub: Redis, private readonly prefix: string, private readonly log: Logger) {
    sub.on('message', (channel: string, payload: string) => {
      for (const l of this.listeners.get(channel.slice(prefix.length)) ?? []) l(payload);
    });
  }
  publish(topic: string, payload: string): void {
    this.pub.publish(`${this.prefix}${topic}`, payload).catch((err: unknown) => this.log.warn({ err, topic }, 'could not publish to other instances'));
  }
  subscribe(topic: string, listener: (payload: string) => void): () => void {
    let set = this.listeners.get(topic);
    if (!set) {
      set = new Set();
      this.listeners.set(topic, set);
      this.sub.subscribe(`${this.prefix}${topic}`).catch((err: unknown) => this.log.error({ err, topic }, 'could not subscribe to other instances'));
    }
    set.add(listener);
    return () => void set.delete(listener);
  }
}

/**
 * Leadership by a Redis lock (redis-semaphore's Mutex, refreshed while held): another instance
 * takes over within `ttlMs` of the leader dying, and a leader that loses the lock is told to stop.
 */
class RedisLeadership implements Leadership {
  private stopped = false;
  private current?: { mutex: Mutex; ac: AbortController };
  private retry?: NodeJS.Timeout;

  constructor(private readonly redis: Redis, private readonly key: string, private readonly ttlMs: number, private readonly log: Logger) {}

  run(lead: (lost: AbortSignal) => void | Promise<void>): void {
    const attempt = async (): Promise<void> => {
      if (this.stopped) return;
      const ac = new AbortController();
      const mutex = new Mutex(this.redis, this.key, {
        lockTimeout: this.ttlMs,
        refreshInterval: Math.floor(this.ttlMs / 3),
        onLockLost: (err) => {
          this.log.warn({ err: { message: err.message }, lock: this.key }, 'leadership lost; stopping what only the leader does');
          ac.abort();
          this.current = undefined;
          this.schedule(attempt);
        },
      });
      let got = false;
      try {
        got = await mutex.tryAcquire();
      } catch (err) {
        this.log.warn({ err, lock: this.key }, 'could not ask for leadership; trying again');
      }
      if (this.stopped) {
        if (got) await mutex.release().catch(() => undefined);
        return;
      }
      if (!got) return this.schedule(attempt);
      this.current = { mutex, ac };
      this.log.info({ lock: this.key }, 'this instance leads');
      try {
        await lead(ac.signal);
      } catch (err) {
        this.log.error({ err, lock: this.key }, 'the leader task failed');
      }
    };
    void attempt();
  }

  private schedule(attempt: () => Promise<void>): void {
    if (this.stopped) return;
    this.retry = setTimeout(() => void attempt(), Math.max(250, Math.floor(this.ttlMs / 3)));
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const c = this.current;
    this.current = undefined;
    if (!c) return;
    c.ac.abort();
    await c.mutex.release().catch(() => undefined);
  }
}

/** Coordination through one Redis shared by every instance. */
export async function redisCoordination(config: CoordinationSettings & { redisUrl: string }, log: Logger, wait?: StartupWait): Promise<Coordination> {
  const prefix = config.redisPrefix;
  const main = connectRedis(config.redisUrl, log, 'main');
  const sub = connectRedis(config.redisUrl, log, 'subscriber');
  try {
    const where = redactRedisUrl(config.redisUrl);
    await waitForServer({ server: 'Redis', variable: 'REDIS_URL', where }, () => Promise.all([whenReady(main), whenReady(sub)]), isRedisStarting, wait);
  } catch (err) {
    main.disconnect();
    sub.disconnect();
    throw err;
  }
  const bus = new RedisBus(main, sub, prefix, log);
  const reseed = new Reseeder(main);
  const leaderships: RedisLeadership[] = [];
  let jobs: ClusterJobs | undefined;
  return {
    kind: 'redis',
    limits: new RedisRateLimits(main, prefix),
    notices: new RedisNoticeGate(main, prefix),
    answered: new RedisAnsweredNotes(main, prefix),
    chatOrder: new RedisChatOrder(main, bus, prefix, config.chatLockTtlMs, log, { takeoverMs: config.takeoverMs, goneHoldMs: config.goneHoldMs }),
    presence: new RedisPresence(main, `${prefix}instances`),
    mirrorSendMarks: (durable) => new MirroredSendMarks(main, prefix, durable),
    bus,
    sharedWindow: (name, windows, scope) =>
      scope === 'chat'
        ? new RedisSharedWindow(main, `${prefix}window:${name}`, windows, log, config.chatLockTtlMs)
        : new RedisSharedWindow(main, `${prefix}window:${name}`, windows, log, undefined, reseed),
    sharedTally: (name, window, o) => new RedisSharedTally(main, `${prefix}tally:${name}`, window, log, reseed, bus, { ...o, deploymentBegan: `${prefix}tallies-counted` }),
    identifyGate: (name, windowMs) => new RedisIdentifyGate(main, `${prefix}identify:${name}`, windowMs, log),
    every: async (name, pattern, task) => {
      validateCron(pattern, name);
      jobs ??= new ClusterJobs(config.redisUrl, prefix, log);
      return jobs.every(name, pattern, task);
    },
    leadership: (name) => {
      const l = new RedisLeadership(main, `${prefix}leader:${name}`, config.chatLockTtlMs, log);
      leaderships.push(l);
      return l;
    },
    ping: async () => {
      try {
        // Readiness answers now: a command would wait out a reconnect for seconds.
        if (main.status !== 'ready') return false;
        return (await main.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    close: async () => {
      await Promise.all(leaderships.map((l) => l.stop()));
      await jobs?.close();
      sub.disconnect();
      await main.quit().catch(() => main.disconnect());
    },
  };
}
