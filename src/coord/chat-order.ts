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
 * (A plain mutex would give mutual exclusion but not order: whoever polls first wins.)
 */
const ENTER = `
local t = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[3] .. t, '1', 'PX', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) else redis.call('SET', KEYS[2], t - 1, 'PX', ARGV[2]) end
return t`;

/** Skip the tickets in front whose holders are gone; return the highest finished ticket. */
const FRONT = `
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = tonumber(ARGV[1])
local steps = 0
while done < t - 1 and steps < 1000 do
  if redis.call('EXISTS', KEYS[2] .. (done + 1)) == 1 then break end
  done = done + 1
  steps = steps + 1
end
redis.call('SET', KEYS[1], done, 'PX', ARGV[2])
return done`;

const LEAVE = `
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
if done < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
redis.call('DEL', KEYS[2] .. ARGV[1])
return 1`;

/** How long an idle chat's counters are kept. */
const IDLE_MS = 86_400_000;

export class RedisChatOrder implements ChatOrder {
  private readonly enterScript;
  private readonly frontScript;
  private readonly leaveScript;
  /** Waiting tickets by chat key: woken when another turn of the chat leaves. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly redis: Redis,
    private readonly bus: Bus,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {
    this.enterScript = luaScript(redis, 'cbChatEnter', 3, ENTER);
    this.frontScript = luaScript(redis, 'cbChatFront', 2, FRONT);
    this.leaveScript = luaScript(redis, 'cbChatLeave', 2, LEAVE);
    bus.subscribe('chat-left', (key) => {
      for (const wake of this.waiters.get(key) ?? []) wake();
    });
  }

  private keys(key: string) {
    const base = `${this.prefix}chat:${key}:`;
    return { next: `${base}next`, done: `${base}done`, alive: `${base}t:` };
  }

  async enter(key: string): Promise<ChatTicket> {
    const k = this.keys(key);
    const ticket = Number(await this.enterScript([k.next, k.done, k.alive], [this.ttlMs, IDLE_MS]));
    let left = false;
    let running = false;
    // Keep the place while waiting and while the turn runs.
    const renew = setInterval(() => {
      void this.redis.pexpire(`${k.alive}${ticket}`, this.ttlMs).then(
        (ok) => {
          if (ok === 0 && !left) this.log.warn({ chat: key, ticket, running }, 'a turn lost its place in the chat line (Redis was unreachable longer than CHAT_LOCK_TTL_MS)');
        },
        () => undefined,
      );
    }, Math.max(200, Math.floor(this.ttlMs / 3)));
    renew.unref();

    const wait = async (): Promise<void> => {
      const pollMs = Math.max(100, Math.floor(this.ttlMs / 5));
      for (;;) {
        let woken: () => void = () => undefined;
        const woke = new Promise<void>((r) => (woken = r));
        const set = this.waiters.get(key) ?? new Set();
        set.add(woken);
        this.waiters.set(key, set);
        try {
          const done = Number(await this.frontScript([k.done, k.alive], [ticket, IDLE_MS]));
          if (done >= ticket - 1) {
            running = true;
            return;
          }
          const timer = setTimeout(woken, pollMs);
          await woke;
          clearTimeout(timer);
        } finally {
          set.delete(woken);
          if (!set.size && this.waiters.get(key) === set) this.waiters.delete(key);
        }
      }
    };

    const leave = async (): Promise<void> => {
      if (left) return;
      left = true;
      clearInterval(renew);
      try {
        await this.leaveScript([k.done, k.alive], [ticket, IDLE_MS]);
        this.bus.publish('chat-left', key);
      } catch (err) {
        // The place expires by itself; the next turn waits at most one TTL.
        this.log.warn({ err, chat: key, ticket }, 'could not leave the chat line; the next turn waits for its expiry');
      }
    };
    return { wait, leave };
  }
}
