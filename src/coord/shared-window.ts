import { randomUUID } from 'node:crypto';
import type { Priority, RateWindow, SharedWindow, WindowLease } from '../core/outbound-window.js';
import type { Logger } from '../log.js';
import type { Redis } from './redis-client.js';
import type { OwnEntries, Reseeder } from './reseed.js';
import { luaScript } from './scripts.js';

/**
 * A bot-wide send window (Telegram's ~30 messages a second per bot, Discord's global rate)
 * counted in Redis, so N instances sending for one bot stay inside it together. The same
 * sliding-window rule as the in-process window: sends are counted from when they finished, a
 * slot is held from `acquire` to `commit`/`release`, and a held slot of an instance that died
 * frees itself after `holdMs`. The clock is Redis' own, so instances' clocks need not agree.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local inflight = redis.call('ZCARD', KEYS[2])
local n = tonumber(ARGV[4])
local horizon = 0
local wait = 0
for i = 0, n - 1 do
  local max = tonumber(ARGV[5 + i * 3])
  local win = tonumber(ARGV[6 + i * 3])
  local reserve = tonumber(ARGV[7 + i * 3])
  if win > horizon then horizon = win end
  local cap = max
  if ARGV[3] == 'normal' then cap = max - reserve end
  if cap <= 0 then
    wait = math.max(wait, win)
  else
    local recent = redis.call('ZCOUNT', KEYS[1], '(' .. (now - win), '+inf')
    local used = recent + inflight
    if used >= cap then
      local mustExpire = used - cap + 1
      if mustExpire > recent then
        wait = math.max(wait, math.max(1, math.ceil(win / math.max(1, max))))
      else
        local r = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - win), '+inf', 'WITHSCORES', 'LIMIT', mustExpire - 1, 1)
        wait = math.max(wait, math.max(1, math.ceil(tonumber(r[2]) + win - now)))
      end
    end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - horizon)
if wait > 0 then return wait end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) * 2)
return 0`;

const COMMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

export class RedisSharedWindow implements SharedWindow {
  private readonly acquireScript;
  private readonly commitScript;
  private readonly sent: string;
  private readonly held: string;
  private readonly horizon: number;
  private readonly args: number[];
  /** The bot-wide window's own sends, told again to a Redis that lost its data (a chat's own window is kept by its instance anyway). */
  private readonly own: OwnEntries | undefined;

  constructor(
    private readonly redis: Redis,
    key: string,
    windows: readonly RateWindow[],
    private readonly log: Logger,
    /** A held slot not settled by then is free again (its holder died). */
    private readonly holdMs = 30_000,
    /** Where this instance's sends are kept to tell a Redis that lost its data; none for one chat's window (made per chat, many). */
    reseed?: Reseeder,
  ) {
    for (const w of windows) {
      if (!(w.max >= 1) || !(w.windowMs > 0)) throw new Error(`shared window needs max >= 1 and windowMs > 0 (got max ${w.max}, windowMs ${w.windowMs})`);
    }
    this.acquireScript = luaScript(redis, 'cbWindowAcquire', 2, ACQUIRE);
    this.commitScript = luaScript(redis, 'cbWindowCommit', 2, COMMIT);
    this.sent = `${key}:sent`;
    this.held = `${key}:held`;
    this.horizon = Math.max(1, ...windows.map((w) => w.windowMs));
    this.args = windows.flatMap((w) => [w.max, w.windowMs, w.reserve ?? 0]);
    this.own = reseed?.window(this.sent, this.horizon * 2);
  }

  async acquire(priority: Priority): Promise<WindowLease | number> {
    if (this.args.length === 0) return { commit: () => undefined, release: () => undefined };
    const id = randomUUID();
    let wait: number;
    try {
      wait = Number(await this.acquireScript([this.sent, this.held], [id, this.holdMs, priority, this.args.length / 3, ...this.args]));
    } catch (err) {
      // Redis unreachable: wait and ask again rather than risk the bot's limit.
      this.log.warn({ err, window: this.sent }, 'shared send window unavailable; waiting');
      return 1000;
    }
    if (wait > 0) return wait;
    let settled = false;
    return {
      commit: async () => {
        if (settled) return;
        settled = true;
        this.own?.added(id);
        await this.commitScript([this.sent, this.held], [id, this.horizon * 2]).catch((err: unknown) => this.log.warn({ err }, 'could not count a send in the shared window'));
      },
      release: async () => {
        if (settled) return;
        settled = true;
        await this.redis.zrem(this.held, id).catch(() => undefined);
      },
    };
  }
}
