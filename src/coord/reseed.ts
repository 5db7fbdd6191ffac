import type { Redis } from './redis-client.js';
import { luaScript } from './scripts.js';

/**
 * Put this instance's own recent entries back into a sliding-window sorted set (ARGV[1]: the
 * key's expiry; then pairs of member and age in ms), dated by their age on Redis' clock. NX:
 * an entry Redis still has is left as it is.
 */
const RESEED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'NX', now - tonumber(ARGV[i + 1]), ARGV[i])
end
if #ARGV > 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`;

/**
 * What this instance added to the sliding windows in Redis during their last window, kept so a
 * Redis that comes back without its data (restarted without persistence) is told again: each
 * instance puts back its own entries, so together they restore the count every instance obeys,
 * instead of all starting from zero and drawing the platform's 429s. One per Redis client, with
 * one 'ready' listener for all its windows (one each would pile up listeners): put back after
 * every reconnect (a reconnect to a Redis that kept its data changes nothing).
 */
export class Reseeder {
  /** Each window's own entries, and anything else told again (`retell`). */
  private readonly retold = new Set<Retold>();
  private readonly script;

  constructor(private readonly redis: Redis) {
    this.script = luaScript(redis, 'cbReseed', 1, RESEED);
    redis.on('ready', () => {
      for (const what of this.retold) void what.putBack();
    });
  }

  /** Something else this instance tells Redis again after every reconnect (see `RedisSharedTally.refused`). */
  retell(what: Retold): void {
    this.retold.add(what);
  }

  /** The entries this instance adds to the window at `key`, `windowMs` long. */
  window(key: string, windowMs: number, now: () => number = Date.now): OwnEntries {
    const own = new OwnEntries(key, windowMs, now, (k, args) => this.script([k], args));
    this.retold.add(own);
    return own;
  }
}

/** What an instance tells a Redis again once it is back (see `Reseeder`). */
export interface Retold {
  putBack(): Promise<void>;
}

/** This instance's entries in one window (see `Reseeder`). */
export class OwnEntries implements Retold {
  private readonly entries: Array<{ member: string; at: number }> = [];

  constructor(
    private readonly key: string,
    private readonly windowMs: number,
    private readonly now: () => number,
    private readonly reseed: (key: string, args: Array<string | number>) => Promise<unknown>,
  ) {}

  /** `member` was added to the window now. */
  added(member: string): void {
    this.prune();
    this.entries.push({ member, at: this.now() });
  }

  /** Tell Redis again about the entries still in the window. */
  async putBack(): Promise<void> {
    this.prune();
    if (!this.entries.length) return;
    const now = this.now();
    await this.reseed(this.key, [this.windowMs, ...this.entries.flatMap((e) => [e.member, now - e.at])]).catch(() => undefined);
  }

  private prune(): void {
    const from = this.now() - this.windowMs;
    let drop = 0;
    while (drop < this.entries.length && this.entries[drop]!.at <= from) drop++;
    if (drop) this.entries.splice(0, drop);
  }
}
