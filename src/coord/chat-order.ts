import type { Logger } from '../log.js';
import type { Redis } from './redis-client.js';
import { luaScript } from './scripts.js';
import type { Bus, ChatOrder, ChatTicket } from './types.js';

/**
 * A chat's line, shared by every instance: each turn takes a numbered ticket on arrival (INCR,
 * so arrival order is ticket order) and runs when every lower ticket has left. A ticket stays
 * valid while its holder renews it; the ticket of an instance that died expires, and the next
 * in line skips it. Turns of one chat therefore run one at a time and in arrival order, and a
 * crash delays a chat by at most one TTL.
 *
 * A ticket is two places in two such lines, kept by the same counters' logic: running (`done`,
 * `t:`) and sending (`sdone`, `s:`). A turn leaves running once its reply is stored and sending
 * once the reply is delivered, so the next turn's work overlaps this reply's sending while its
 * reply still goes out after this one.
 *
 * (A plain mutex would give mutual exclusion but not order: whoever polls first wins.)
 */
const ENTER = `
local t = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[3] .. t, '1', 'PX', ARGV[1])
redis.call('SET', KEYS[5] .. t, '1', 'PX', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for _, done in ipairs({KEYS[2], KEYS[4]}) do
  if redis.call('EXISTS', done) == 1 then redis.call('PEXPIRE', done, ARGV[2]) else redis.call('SET', done, t - 1, 'PX', ARGV[2]) end
end
local first = 0
if #KEYS == 6 and redis.call('SET', KEYS[6], t, 'NX', 'PX', ARGV[3]) then first = 1 end
return {t, first}`;

/**
 * Take over the place an event's first ticket holds (KEYS: the event's ticket record, then each
 * part's finished count and place prefix), for the instance that took over the event from a dead
 * one: each part the line has not passed yet is held again. Returns {ticket, running, sending}
 * (1 where held again), or {0, 0, 0} when the event never had a place.
 */
const ADOPT = `
local t = tonumber(redis.call('GET', KEYS[1]) or '0')
if t == 0 then return {0, 0, 0} end
local held = {t, 0, 0}
for i, part in ipairs({{KEYS[2], KEYS[3]}, {KEYS[4], KEYS[5]}}) do
  if tonumber(redis.call('GET', part[1]) or '0') < t then
    redis.call('SET', part[2] .. t, '1', 'PX', ARGV[1])
    held[i + 1] = 1
  end
end
return held`;

/**
 * Skip the tickets in front whose holders are gone; return the highest finished ticket. Given a
 * second pair of keys (the sending part), and the first part is clear, the same for the second:
 * `{running, sending}` (sending -1 when not asked), so a turn whose chat's earlier replies are
 * all delivered by the time it runs needs no second call before sending.
 */
const FRONT = `
local function front(doneKey, aliveKey, t)
  local done = tonumber(redis.call('GET', doneKey) or '0')
  local steps = 0
  while done < t - 1 and steps < 1000 do
    if redis.call('EXISTS', aliveKey .. (done + 1)) == 1 then break end
    done = done + 1
    steps = steps + 1
  end
  redis.call('SET', doneKey, done, 'PX', ARGV[2])
  return done
end
local t = tonumber(ARGV[1])
local running = front(KEYS[1], KEYS[2], t)
if #KEYS == 4 and running >= t - 1 then return {running, front(KEYS[3], KEYS[4], t)} end
return {running, -1}`;

/**
 * Give a place up (KEYS: the ticket counter, then the part's finished count and place prefix; a
 * second pair gives up both parts at once). A finished count moves only when the place was next
 * in line: a place left out of turn (a turn that ran while Redis failed) is skipped by the front
 * once it is gone. Returns 1 when a later ticket exists — someone may be waiting to hear of it.
 */
const LEAVE = `
local t = tonumber(ARGV[1])
local function leave(doneKey, aliveKey)
  local done = tonumber(redis.call('GET', doneKey) or '0')
  if done == t - 1 then redis.call('SET', doneKey, t, 'PX', ARGV[2]) end
  redis.call('DEL', aliveKey .. t)
end
leave(KEYS[2], KEYS[3])
if #KEYS == 5 then leave(KEYS[4], KEYS[5]) end
if tonumber(redis.call('GET', KEYS[1]) or '0') > t then return 1 end
return 0`;

/** How long an idle chat's counters are kept. */
const IDLE_MS = 86_400_000;
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
}

export class RedisChatOrder implements ChatOrder {
  private readonly enterScript;
  private readonly enterEventScript;
  private readonly adoptScript;
  private readonly frontScript;
  private readonly frontBothScript;
  private readonly leaveScript;
  private readonly leaveBothScript;
  /** How long the place of a message that can be taken over lasts without renewal. */
  private readonly eventTtlMs: number;
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
    this.enterScript = luaScript(redis, 'cbChatEnter3', 5, ENTER);
    this.enterEventScript = luaScript(redis, 'cbChatEnterEvent2', 6, ENTER);
    this.adoptScript = luaScript(redis, 'cbChatAdopt', 5, ADOPT);
    this.frontScript = luaScript(redis, 'cbChatFront2', 2, FRONT);
    this.frontBothScript = luaScript(redis, 'cbChatFrontBoth', 4, FRONT);
    this.leaveScript = luaScript(redis, 'cbChatLeave2', 3, LEAVE);
    this.leaveBothScript = luaScript(redis, 'cbChatLeaveBoth', 5, LEAVE);
    // Renewed every third of it, a place outlives its dead holder by at least two thirds of its TTL.
    this.eventTtlMs = Math.max(ttlMs, Math.ceil(((opts.takeoverMs ?? 0) * 3) / 2) + 1000);
    bus.subscribe('chat-left', (key) => {
      for (const wake of this.waiters.get(key) ?? []) wake();
    });
  }

  private keys(key: string) {
    const base = `${this.prefix}chat:${key}:`;
    return { next: `${base}next`, done: `${base}done`, alive: `${base}t:`, sendDone: `${base}sdone`, sending: `${base}s:`, event: (eventKey: string) => `${base}ev:${eventKey}` };
  }

  /**
   * A new place at the end of chat `key`'s line. With `eventKey` (a platform message, which
   * another instance takes over if this one dies), the place is recorded for `adopt`.
   */
  async enter(key: string, eventKey?: string): Promise<ChatTicket> {
    const k = this.keys(key);
    const ttl = eventKey === undefined ? this.ttlMs : this.eventTtlMs;
    const keys = [k.next, k.done, k.alive, k.sendDone, k.sending];
    const [ticket, first] = ((await (eventKey === undefined ? this.enterScript(keys, [ttl, IDLE_MS]) : this.enterEventScript([...keys, k.event(eventKey)], [ttl, IDLE_MS, EVENT_RECORD_MS]))) as number[]).map(Number);
    return this.place(key, ticket!, { running: true, sending: true }, ttl, eventKey !== undefined && first === 1);
  }

  /**
   * The place event `eventKey` took when it first arrived, for the instance that took the event
   * over from a dead one: the parts of it the line has not passed are held again, so the chat's
   * later turns still wait for this one. Undefined when the event had no place or the line has
   * passed it (its holder's place expired and a later turn went on).
   */
  async adopt(key: string, eventKey: string): Promise<ChatTicket | undefined> {
    const k = this.keys(key);
    const [ticket, running, sending] = ((await this.adoptScript([k.event(eventKey), k.done, k.alive, k.sendDone, k.sending], [this.eventTtlMs])) as number[]).map(Number);
    if (!ticket || (!running && !sending)) return undefined;
    return this.place(key, ticket!, { running: running === 1, sending: sending === 1 }, this.eventTtlMs);
  }

  /** Ticket `ticket` of chat `key`, holding the parts in `held` (renewed every third of `ttl` until left). */
  private place(key: string, ticket: number, held: Record<Part, boolean>, ttl: number, firstForEvent = false): ChatTicket {
    const k = this.keys(key);
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
    /** Whether every lower ticket has left `part` of the line (or died). */
    const front = async (part: Part): Promise<boolean> => {
      if (part === 'sending') {
        const [sending] = (await this.frontScript([k.sendDone, k.sending], [ticket, IDLE_MS])) as number[];
        return (sendClear ||= Number(sending) >= ticket - 1);
      }
      const [running, sending] = (await this.frontBothScript([k.done, k.alive, k.sendDone, k.sending], [ticket, IDLE_MS])) as number[];
      sendClear ||= Number(sending) >= ticket - 1;
      return Number(running) >= ticket - 1;
    };
    const waitFor = async (part: Part): Promise<void> => {
      const pollMs = Math.max(100, Math.floor(this.ttlMs / 5));
      for (;;) {
        if (part === 'sending' && sendClear) return;
        let woken: () => void = () => undefined;
        const woke = new Promise<void>((r) => (woken = r));
        const set = this.waiters.get(key) ?? new Set();
        set.add(woken);
        this.waiters.set(key, set);
        try {
          if (await front(part)) return;
          const timer = setTimeout(woken, pollMs);
          await woke;
          clearTimeout(timer);
        } finally {
          set.delete(woken);
          if (!set.size && this.waiters.get(key) === set) this.waiters.delete(key);
        }
      }
    };

    const leave = async (parts: Part[]): Promise<void> => {
      const giving = parts.filter((p) => held[p]);
      if (!giving.length) return;
      for (const p of giving) held[p] = false;
      if (!held.running && !held.sending) clearInterval(renew);
      const pairs = giving.flatMap((p) => (p === 'running' ? [k.done, k.alive] : [k.sendDone, k.sending]));
      try {
        const script = pairs.length === 4 ? this.leaveBothScript : this.leaveScript;
        // Only a later ticket can be waiting for this one: without one there is nobody to wake.
        if (Number(await script([k.next, ...pairs], [ticket, IDLE_MS])) === 1) this.bus.publish('chat-left', key);
      } catch (err) {
        // The place expires by itself; the next turn waits at most one TTL.
        this.log.warn({ err, chat: key, ticket, parts: giving }, 'could not leave the chat line; the next turn waits for its expiry');
      }
    };
    return {
      firstForEvent,
      wait: () => waitFor('running'),
      leave: (opts) => leave(opts?.sent ? ['running', 'sending'] : ['running']),
      waitToSend: () => waitFor('sending'),
      sent: () => leave(['sending']),
    };
  }
}

type Part = 'running' | 'sending';
