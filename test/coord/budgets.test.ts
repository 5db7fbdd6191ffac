/**
 * Budgets longer than a minute (a tenant key's turns the model refused, an owner's lorebook
 * patterns that stalled the scan: an hour) counted through Redis: two instances spend from one
 * budget and each closes the key once it finds the count used up, and a per-minute limit keeps
 * its key name, so a rolling deploy keeps counting the same window.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisRateLimits } from '../../src/coord/redis.js';
import { RefusedTurns } from '../../src/engine/refusals.js';
import { MAX_STRIKES } from '../../src/engine/lore-context.js';
import { newLoreBook, newLoreEntry } from '../../src/lore/index.js';
import { inbound, say, seen, startHarness, type Harness } from '../helpers/harness.js';
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

  it('spends one hourly budget from two instances, each told how many points are left and when it starts again', async () => {
    const [a, b] = pair();
    expect(await a.spend('refused:k1', 3, 3600)).toMatchObject({ left: 2 });
    expect(await b.spend('refused:k1', 3, 3600)).toMatchObject({ left: 1 });
    const last = await a.spend('refused:k1', 3, 3600);
    expect(last.left).toBe(0);
    expect(last.resetMs).toBeGreaterThan(3_590_000);
    expect(last.resetMs).toBeLessThanOrEqual(3_600_000);
    expect(await b.spend('refused:k1', 3, 3600)).toMatchObject({ left: 0 });
    // Another key, and the same points over another window, count apart.
    expect(await b.spend('refused:k2', 3, 3600)).toMatchObject({ left: 2 });
    expect(await b.spend('refused:k1', 3, 60)).toMatchObject({ left: 2 });
  });

  it('closes a key on each instance once the shared count is used up: the other instance at its own next refusal', async () => {
    const [a, b] = pair();
    const now = () => 1_000_000;
    const onA = new RefusedTurns(a, 2, now);
    const onB = new RefusedTurns(b, 2, now);
    await onA.count('k1');
    expect(onA.closedFor('k1')).toBe(0);
    await onA.count('k1');
    expect(onA.closedFor('k1')).toBeGreaterThan(3_590_000);
    // B asks no one: it lets the key in until a refusal of its own finds the count used up.
    expect(onB.closedFor('k1')).toBe(0);
    await onB.count('k1');
    expect(onB.closedFor('k1')).toBeGreaterThan(3_590_000);
    expect(onB.closedFor('k2')).toBe(0);
  });

  it("counts an owner's stalling lorebook patterns from two instances together: the instance that finds the count used up leaves its books out", async () => {
    const [a, b] = pair();
    const harnesses: Harness[] = [];
    try {
      const instance = async (limits: RedisRateLimits) => {
        const h = await startHarness({ limits });
        harnesses.push(h);
        const book = await h.store.lorebooks.create('key_hostile', { name: 'Hostile', description: null, book: hostile('/(\\w|\\d)+$/') });
        await h.store.lorebooks.attach(book.id, { kind: 'character', id: 'preset_aria' });
        // A new stalling pattern before every turn: each instance catches and refuses each once.
        return async (pattern: string) => {
          await h.store.lorebooks.update(book.id, { book: hostile(pattern) });
          await say(h.engine, inbound({ text: `dragon ${'1'.repeat(48)}!` }));
          return seen(h.fake)[0]!;
        };
      };
      const [onA, onB] = [await instance(a), await instance(b)];
      expect(MAX_STRIKES).toBe(3);
      expect(await onA('/(\\w|\\d)+$/')).toContain('HOSTILE lore.');
      expect(await onA('/(\\d|\\w)+$/')).toContain('HOSTILE lore.');
      // The third stall, on the other instance, uses the owner's hour up: its books are out there.
      expect(await onB('/(1|\\d)+$/')).toContain('HOSTILE lore.');
      expect(await onB('/(\\d|1)+$/')).not.toContain('HOSTILE');
      // The first instance learns it at its own next stall, then leaves them out too.
      expect(await onA('/(1|\\w)+$/')).toContain('HOSTILE lore.');
      expect(await onA('/(\\w|1)+$/')).not.toContain('HOSTILE');
    } finally {
      for (const h of harnesses) await h.close();
    }
  });

  it('a per-minute limit keeps the key it always had', async () => {
    const [a, , raw, prefix] = pair();
    expect(await a.consume('apikey:k1', 5)).toEqual({ ok: true });
    expect(await raw.keys(`${prefix}*`)).toEqual([`${prefix}rl5:apikey:k1`]);
    expect(await a.spend('refused:k1', 5, 3600)).toMatchObject({ left: 4 });
    expect((await raw.keys(`${prefix}*`)).sort()).toEqual([`${prefix}rl5:apikey:k1`, `${prefix}rl5per3600:refused:k1`]);
  });
});

function hostile(pattern: string): string {
  return JSON.stringify(newLoreBook({ name: 'Hostile', entries: [newLoreEntry({ id: 0, keys: [pattern], content: 'NEVER.' }), newLoreEntry({ id: 1, keys: ['dragon'], content: 'HOSTILE lore.' })] }));
}
