/**
 * Budgets longer than a minute (a tenant key's turns the model refused, an hour) counted through
 * Redis: two instances spend from one budget, asking whether a point is left takes none, and a
 * per-minute limit keeps its key name, so a rolling deploy keeps counting the same window.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisRateLimits } from '../../src/coord/redis.js';
import { hasRedis, redisPrefix, type TestRedisPrefix } from '../helpers/services.js';

describe.skipIf(!hasRedis())('budgets shared through Redis', () => {
  const clients: Redis[] = [];
  const spaces: TestRedisPrefix[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const s of spaces.splice(0)) await s.clear();
  });
  /** Two instances' limits on one prefix, and a plain client to look at the keys. */
  const pair = () => {
    const space = redisPrefix();
    spaces.push(space);
    const [a, b] = [new Redis(space.url), new Redis(space.url)];
    clients.push(a, b);
    return [new RedisRateLimits(a, space.prefix), new RedisRateLimits(b, space.prefix), a, space.prefix] as const;
  };

  it('spends one hourly budget from two instances; asking takes nothing', async () => {
    const [a, b] = pair();
    expect(await a.left('refused:k1', 2, 3600)).toEqual({ ok: true });
    expect(await a.left('refused:k1', 2, 3600)).toEqual({ ok: true });
    expect(await a.spend('refused:k1', 2, 3600)).toEqual({ ok: true });
    expect(await b.left('refused:k1', 2, 3600)).toEqual({ ok: true });
    expect(await b.spend('refused:k1', 2, 3600)).toEqual({ ok: true });
    const spent = await a.left('refused:k1', 2, 3600);
    expect(spent.ok).toBe(false);
    if (!spent.ok) {
      expect(spent.retryAfterMs).toBeGreaterThan(3_590_000);
      expect(spent.retryAfterMs).toBeLessThanOrEqual(3_600_000);
    }
    // Another key, and the same points over another window, count apart.
    expect(await b.left('refused:k2', 2, 3600)).toEqual({ ok: true });
    expect(await b.left('refused:k1', 2, 60)).toEqual({ ok: true });
  });

  it('a per-minute limit keeps the key it always had', async () => {
    const [a, , raw, prefix] = pair();
    expect(await a.consume('apikey:k1', 5)).toEqual({ ok: true });
    expect(await raw.keys(`${prefix}*`)).toEqual([`${prefix}rl5:apikey:k1`]);
    expect(await a.spend('refused:k1', 5, 3600)).toEqual({ ok: true });
    expect((await raw.keys(`${prefix}*`)).sort()).toEqual([`${prefix}rl5:apikey:k1`, `${prefix}rl5per3600:refused:k1`]);
  });
});
