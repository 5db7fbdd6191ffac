/**
 * Rate limits and their "slow down" notices while Redis cannot answer: each instance limits on
 * its own (rate-limiter-flexible's insurance limiter) instead of every message failing, and the
 * notice is sent rather than the turn failing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisNoticeGate, RedisRateLimits } from '../../src/coord/redis.js';
import { freePort } from '../helpers/ports.js';

describe('limits while Redis is unreachable', () => {
  const clients: Redis[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });
  /** A client of a Redis that is down: every command fails at once. */
  const down = async () => {
    const c = new Redis(`redis://127.0.0.1:${await freePort()}`, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  it('still limits, counting in this process', async () => {
    const limits = new RedisRateLimits(await down(), 'x:');
    expect(await limits.consume('user:telegram:1', 2)).toEqual({ ok: true });
    expect(await limits.consume('user:telegram:1', 2)).toEqual({ ok: true });
    const third = await limits.consume('user:telegram:1', 2);
    expect(third.ok).toBe(false);
    expect(await limits.consume('user:telegram:2', 2)).toEqual({ ok: true });
    // A longer budget counts in this process too.
    expect(await limits.spend('refused:k1', 2, 3600)).toMatchObject({ left: 1 });
    expect(await limits.spend('refused:k1', 2, 3600)).toMatchObject({ left: 0 });
    expect(await limits.spend('refused:k2', 2, 3600)).toMatchObject({ left: 1 });
  });

  it('sends the notice rather than failing the turn', async () => {
    const gate = new RedisNoticeGate(await down(), 'x:');
    expect(await gate.shouldNotify('user:telegram:1', 0, 60_000)).toBe(true);
  });
});
