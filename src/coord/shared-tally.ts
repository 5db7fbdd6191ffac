import { randomUUID } from 'node:crypto';
import type { RateWindow, SharedTally, SharedTallyOptions } from '../core/outbound-window.js';
import type { Logger } from '../log.js';
import type { Redis } from './redis-client.js';
import type { OwnEntries, Reseeder } from './reseed.js';
import type { Bus } from './types.js';
import { luaScript } from './scripts.js';

/**
 * Counts one call (KEYS[1] the window, KEYS[2] the platform's last refusal, KEYS[3] when this
 * Redis began counting this tally, KEYS[4] any tally of the deployment; ARGV[1], a unique member,
 * empty to only ask; ARGV[5], this tally's beginning as this instance last heard it, empty if
 * never; ARGV[6] '1' when another instance ran within the window, by the database) and
 * answers {how long until the window has room
 * below its reserve again, how long the platform still refuses calls (REFUSE), the beginning}:
 * room returns once `count - cap + 1` of the oldest calls have left the window, i.e. when the call
 * at index `count - cap` (0-based, oldest first) does. Redis' own clock, so instances' clocks need
 * not agree.
 *
 * The beginning is `<ms>:fresh`, or `<ms>:lost` when an instance that had counted here before
 * finds it gone (or begun again since), or one that never did finds no tally of the deployment at
 * all while another instance ran within the window (every instance restarted with Redis; a
 * tally merely never used before, on a Redis that kept the others, is new): Redis lost its data,
 * and with it the calls of instances that died meanwhile, which nobody can tell again. Until one
 * window after a loss, a window with a reserve counts as full below it, so optional work holds
 * back everywhere, in a process started after the loss too, instead of drawing the platform's
 * 429s to find out. A window without one (the lookups a reply sent again makes, whose only use is
 * to keep it from showing twice) is not held: at worst one lookup draws a 429, which every
 * instance then waits out.
 */
const TALLY = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win = tonumber(ARGV[2])
local began = redis.call('GET', KEYS[3])
local known = ARGV[5]
local function fresh(b) return string.sub(b, -6) == ':fresh' end
local function lost(b) return string.sub(b, 1, -7) .. ':lost' end
-- This instance counted here before and finds the tally gone, or begun again: Redis lost its data.
local sawLoss = known ~= '' and (not began or (began ~= known and fresh(began)))
local any = redis.call('GET', KEYS[4])
if not any then
  if sawLoss or ARGV[6] == '1' then any = now .. ':lost' else any = now .. ':fresh' end
  redis.call('SET', KEYS[4], any)
elseif sawLoss and fresh(any) then
  any = lost(any)
  redis.call('SET', KEYS[4], any)
end
if not began or (sawLoss and fresh(began)) then
  -- A tally that begins now shares a loss the deployment's beginning records (dated by it; a loss this instance saw is recorded there just above).
  if string.sub(any, -5) == ':lost' then began = any else began = now .. ':fresh' end
  redis.call('SET', KEYS[3], began)
end
local held = 0
if string.sub(began, -5) == ':lost' and tonumber(ARGV[4]) > 0 then held = math.max(0, tonumber(string.sub(began, 1, -6)) + win - now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], win)
end
local refused = math.max(0, redis.call('PTTL', KEYS[2]))
local count = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[3]) - tonumber(ARGV[4])
if cap <= 0 then return {win, refused, began} end
if count < cap then return {held, refused, began} end
local r = redis.call('ZRANGE', KEYS[1], count - cap, count - cap, 'WITHSCORES')
return {math.max(held, 1, math.ceil(tonumber(r[2]) + win - now)), refused, began}`;

/** The platform refused a call for ARGV[1] ms (KEYS[1]): kept as long as the longest refusal still running. */
const REFUSE = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1`;

/**
 * A tally of calls in a sliding window kept in Redis, shared by every instance of one app (Slack's
 * method tiers are per workspace, however many processes call). Each call is counted as it is
 * made; the answer tells this instance's optional work to hold back while the instances
 * together have used the window up to its reserve. A Redis that lost its data is told each
 * instance's own calls again (`OwnEntries`); a dead instance's calls are gone with it, so for one
 * window after the loss optional work holds back as if the window were full (TALLY's beginning),
 * and should the platform still refuse a call, that refusal (its Retry-After) is shared too: every
 * instance, and a process that starts, holds back for as long instead of each drawing its own
 * 429 to find out.
 */
export class RedisSharedTally implements SharedTally {
  private readonly script;
  private readonly refuseScript;
  private readonly own: OwnEntries | undefined;
  /** Until when (this process's clock) the platform refuses calls, as last heard: told again to a Redis that lost it. */
  private refusedUntil = 0;
  /** When this Redis began counting, as last heard (see TALLY): a change under this process is a data loss. */
  private began = '';
  private readonly refusalListeners = new Set<(retryAfterMs: number) => void>();
  private readonly holdListeners = new Set<(ms: number) => void>();
  private readonly deploymentBegan: string;
  /** Asked of the database once, while this process has not yet heard this Redis' beginning. */
  private othersRecent: Promise<boolean> | undefined;
  /** The subscription to other instances' refusals, made with the first listener. */
  private listening: (() => void) | undefined;

  constructor(
    redis: Redis,
    private readonly key: string,
    private readonly window: RateWindow,
    private readonly log: Logger,
    /** Where this instance's calls are kept to tell a Redis that lost its data. */
    reseed?: Reseeder,
    /** Where a refusal is told to the other instances as it happens (see `onRefused`). */
    private readonly bus?: Bus,
    private readonly o: SharedTallyOptions & {
      /** Where any tally of the deployment notes that this Redis has counted (TALLY's KEYS[4]); this tally's own by default. */
      deploymentBegan?: string;
    } = {},
  ) {
    if (!(window.max >= 1) || !(window.windowMs > 0)) throw new Error(`shared tally needs max >= 1 and windowMs > 0 (got max ${window.max}, windowMs ${window.windowMs})`);
    this.script = luaScript(redis, 'cbTally', 4, TALLY);
    this.refuseScript = luaScript(redis, 'cbTallyRefused', 1, REFUSE);
    this.deploymentBegan = o.deploymentBegan ?? `${key}:counted`;
    this.own = reseed?.window(key, window.windowMs);
    // A refusal kept only in Redis is gone with a Redis that lost its data, while the platform's
    // window is still full: each instance that heard of it tells it again. Then the tally is asked
    // at once (after this instance's own calls were put back), so a loss holds optional work back
    // before its next call, not from that call's answer.
    reseed?.retell({
      putBack: async () => {
        await this.refused(this.refusedUntil - Date.now());
        if (!this.holdListeners.size) return;
        const ms = await this.run('');
        if (ms > 0) for (const listener of this.holdListeners) listener(ms);
      },
    });
  }

  add(): Promise<number> {
    const member = randomUUID();
    this.own?.added(member);
    return this.run(member);
  }

  wait(): Promise<number> {
    return this.run('');
  }

  async refused(retryAfterMs: number): Promise<void> {
    if (!(retryAfterMs > 0)) return;
    this.heard(retryAfterMs);
    try {
      await this.refuseScript([`${this.key}:refused`], [Math.ceil(retryAfterMs)]);
      this.bus?.publish(`${this.key}:refused`, String(Math.ceil(retryAfterMs)));
    } catch (err) {
      // Redis unreachable: this instance still holds back by itself (TierGate).
      this.log.warn({ err, tally: this.key }, 'shared call tally unavailable');
    }
  }

  /**
   * Hear of every instance's refusals: as they happen (published), and with each answer, so a
   * process that starts hears of one still running with its first question.
   */
  onRefused(listener: (retryAfterMs: number) => void): () => void {
    this.refusalListeners.add(listener);
    this.listening ??= this.bus?.subscribe(`${this.key}:refused`, (payload) => this.heard(Number(payload)));
    return () => void this.refusalListeners.delete(listener);
  }

  onHold(listener: (ms: number) => void): () => void {
    this.holdListeners.add(listener);
    return () => void this.holdListeners.delete(listener);
  }

  private heard(ms: number): void {
    if (!(ms > 0)) return;
    this.refusedUntil = Math.max(this.refusedUntil, Date.now() + ms);
    for (const listener of this.refusalListeners) listener(ms);
  }

  private async run(member: string): Promise<number> {
    const { max, windowMs, reserve = 0 } = this.window;
    try {
      const others = this.began === '' && (await this.othersWereRecent());
      const [wait, refused, began] = (await this.script([this.key, `${this.key}:refused`, `${this.key}:began`, this.deploymentBegan], [member, windowMs, max, reserve, this.began, others ? '1' : ''])) as [number, number, string];
      this.began = String(began);
      this.heard(Number(refused));
      return Math.max(Number(wait), Number(refused));
    } catch (err) {
      // Redis unreachable: this instance's own count still applies.
      this.log.warn({ err, tally: this.key }, 'shared call tally unavailable');
      return 0;
    }
  }

  /** Whether another instance ran within the window (stopped since or not); unknown (the database away) is no. */
  private othersWereRecent(): Promise<boolean> {
    const ask = this.o.othersRecent;
    if (!ask) return Promise.resolve(false);
    return (this.othersRecent ??= ask(this.window.windowMs).catch((err: unknown) => {
      this.log.warn({ err, tally: this.key }, 'could not ask the database which instances were alive; an empty Redis is taken for new');
      return false;
    }));
  }
}
