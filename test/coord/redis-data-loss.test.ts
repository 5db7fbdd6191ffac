/**
 * A Redis restarted without its data forgets every instance's counts. Each instance tells it
 * again what it added itself — a Slack tier's calls, a bot-wide window's sends — once it has
 * reconnected, so together they restore the count instead of starting from zero and drawing the
 * platform's 429s. A refusal the platform answered (its Retry-After) is told again by every
 * instance that heard of it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis, type Redis } from '../../src/coord/redis-client.js';
import { RedisSharedTally } from '../../src/coord/shared-tally.js';
import { RedisSharedWindow } from '../../src/coord/shared-window.js';
import { Reseeder } from '../../src/coord/reseed.js';
import { TierGate } from '../../adapters/slack/tiers.js';
import { testLogger } from '../helpers/harness.js';
import { hasRedis, redisPrefix } from '../helpers/services.js';

describe.skipIf(!hasRedis())('counts in a Redis that lost its data', () => {
  const clients: Redis[] = [];
  const prefixes: Array<ReturnType<typeof redisPrefix>> = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const p of prefixes.splice(0)) await p.clear();
  });
  /** Two instances' connections, and the way to make Redis forget everything under the prefix. */
  const twoInstances = async () => {
    const r = redisPrefix();
    prefixes.push(r);
    const [a, b] = [connectRedis(r.url, testLogger(), 'a'), connectRedis(r.url, testLogger(), 'b')];
    clients.push(a, b);
    await Promise.all([a.connect(), b.connect()]);
    // Each instance's one reseeder on its connection, as redisCoordination makes it.
    const reseeders = new Map([a, b].map((c) => [c, new Reseeder(c)]));
    return { r, a, b, reseeders };
  };
  /** Both connections drop and come back, as they do when Redis restarts. */
  const reconnect = (...cs: Redis[]) => {
    for (const c of cs) c.disconnect(true);
  };

  it("puts both instances' calls of a Slack tier back", async () => {
    const { r, a, b, reseeders } = await twoInstances();
    const w = { max: 4, windowMs: 60_000, reserve: 1 };
    const ta = new RedisSharedTally(a, `${r.prefix}tally:chat.update`, w, testLogger(), reseeders.get(a));
    const tb = new RedisSharedTally(b, `${r.prefix}tally:chat.update`, w, testLogger(), reseeders.get(b));
    await ta.add();
    await tb.add();
    expect(await ta.add()).toBeGreaterThan(55_000); // up to its reserve: optional work holds back

    await r.clear();
    // Asked by a process that never counted there (so the loss's own hold, below, stays out of it).
    const look = new RedisSharedTally(b, `${r.prefix}tally:chat.update`, w, testLogger());
    expect(await look.wait()).toBe(0); // forgotten: both would go on calling
    reconnect(a, b);
    await expect.poll(() => look.wait(), { timeout: 5000 }).toBeGreaterThan(55_000);
    // Each call is there once: one more for the reserve fits, as before the loss.
    expect(await look.wait()).toBeLessThanOrEqual(60_000);
  });

  it('holds optional work back for a window after a loss, in a process started after it too, and not on a Redis that is new', async () => {
    const { r, a, b, reseeders } = await twoInstances();
    const w = { max: 20, windowMs: 60_000, reserve: 5 };
    const tally = (c: Redis, name = 'chat.startStream') => new RedisSharedTally(c, `${r.prefix}tally:${name}`, w, testLogger(), reseeders.get(c));
    const ta = tally(a);
    expect(await ta.add()).toBe(0); // one call of 15 below the reserve: room
    // Redis loses its data; the calls of an instance that died meanwhile are in Slack's window but told by nobody.
    await r.clear();
    expect(await ta.add()).toBeGreaterThan(55_000);
    expect(await tally(b).wait()).toBeGreaterThan(55_000); // a process that starts now holds back as long
    // A tier never counted on this Redis before (a new deployment's) is not held.
    expect(await tally(b, 'chat.stopStream').wait()).toBe(0);
    // A new process was first to count after the loss (it took the Redis for new); the instance that had counted there before corrects it.
    await r.clear();
    expect(await tally(b).wait()).toBe(0);
    expect(await ta.wait()).toBeGreaterThan(55_000);
    expect(await tally(b).wait()).toBeGreaterThan(55_000);
  });

  it("holds a Slack tier's optional work back as soon as the instance reconnects to the emptied Redis, before a call of its own", async () => {
    const { r, a, reseeders } = await twoInstances();
    const w = { max: 20, windowMs: 60_000, reserve: 5 };
    const gate = new TierGate({ 'chat.startStream': w }, Date.now, (m, win) => new RedisSharedTally(a, `${r.prefix}tally:${m}`, win, testLogger(), reseeders.get(a)));
    gate.take('chat.startStream'); // one call of 15 below the reserve: this instance now knows the Redis
    await expect.poll(() => a.exists(`${r.prefix}tally:chat.startStream:began`), { timeout: 5000 }).toBe(1);
    expect(gate.hasRoom('chat.startStream')).toBe(true);

    // Redis restarts without its data: the calls of an instance that died meanwhile are in Slack's window, counted nowhere.
    await r.clear();
    reconnect(a);
    // The next stream holds back without drawing the 429 it would otherwise take to find out.
    await expect.poll(() => gate.hasRoom('chat.startStream'), { timeout: 5000 }).toBe(false);
  });

  it('takes an emptied Redis for a loss in a process that never counted there, when another instance was alive within the window', async () => {
    const { r, a, b } = await twoInstances();
    const w = { max: 20, windowMs: 60_000, reserve: 5 };
    let alive = true;
    const asked: number[] = [];
    const othersRecent = async (withinMs: number) => (asked.push(withinMs), alive);
    const tally = (c: Redis, name: string, win: { max: number; windowMs: number; reserve?: number } = w) =>
      new RedisSharedTally(c, `${r.prefix}tally:${name}`, win, testLogger(), undefined, undefined, { othersRecent, deploymentBegan: `${r.prefix}tallies-counted` });
    // A first deployment (nobody alive before it) is new.
    alive = false;
    expect(await tally(a, 'chat.update').wait()).toBe(0);
    // A tier never used before, on a Redis that kept the deployment's counts, is new too, whoever was alive.
    alive = true;
    expect(await tally(b, 'chat.startStream').add()).toBe(0);

    // Every instance restarts with Redis, which kept nothing: the new processes know no beginning,
    // but the database saw instances alive within the last minute, whose calls Slack still counts.
    await r.clear();
    asked.length = 0;
    expect(await tally(a, 'chat.startStream').wait()).toBeGreaterThan(55_000);
    expect(asked).toEqual([60_000]);
    expect(await tally(b, 'chat.startStream').add()).toBeGreaterThan(55_000);
    // Every tier of the deployment is held from the same loss, one first used after it too…
    expect(await tally(b, 'chat.update').wait()).toBeGreaterThan(55_000);
    // …but not a lookup's (no reserve: its only use is keeping a reply sent again from showing twice).
    expect(await tally(a, 'conversations.history', { max: 50, windowMs: 60_000 }).add()).toBe(0);
  });

  it("puts back a tier Slack refused: an instance that heard of the 429 tells it again, though the one refused may be dead", async () => {
    const { r, a, b, reseeders } = await twoInstances();
    const w = { max: 50, windowMs: 60_000, reserve: 15 };
    const tally = (c: Redis) => new RedisSharedTally(c, `${r.prefix}tally:chat.startStream`, w, testLogger(), reseeders.get(c));
    // A dead instance's calls filled Slack's window, and none of them is counted: Slack refuses a call of a.
    await tally(a).refused(30_000);
    const tb = tally(b);
    expect(await tb.add()).toBeGreaterThan(29_000); // b hears of it with its next call
    a.disconnect(); // a dies

    await r.clear();
    const look = new RedisSharedTally(b, `${r.prefix}tally:chat.startStream`, w, testLogger());
    expect(await look.wait()).toBe(0); // forgotten: b, and any instance that starts, would call and draw a 429 each
    reconnect(b);
    await expect.poll(() => look.wait(), { timeout: 5000 }).toBeGreaterThan(25_000);
    expect(await look.wait()).toBeLessThanOrEqual(30_000);
  });

  it("puts a bot-wide window's sends back", async () => {
    const { r, a, b, reseeders } = await twoInstances();
    const perMinute = [{ max: 2, windowMs: 60_000 }];
    const bot = (c: Redis) => new RedisSharedWindow(c, `${r.prefix}window:telegram:1`, perMinute, testLogger(), undefined, reseeders.get(c));
    for (const c of [a, b]) {
      const lease = await bot(c).acquire('high');
      if (typeof lease === 'number') throw new Error('the window should have room');
      await lease.commit();
    }
    expect(typeof (await bot(a).acquire('high'))).toBe('number'); // full

    await r.clear();
    // A window made after the loss, asked before the reconnect, has room (Redis forgot)…
    const later = bot(b);
    const free = await later.acquire('high');
    expect(typeof free).toBe('object');
    if (typeof free === 'object') await free.release();
    // …and once both instances reconnected, their sends are counted again.
    reconnect(a, b);
    const full = async () => {
      const lease = await later.acquire('high');
      if (typeof lease === 'number') return true;
      await lease.release(); // only asked, nothing sent
      return false;
    };
    await expect.poll(full, { timeout: 5000 }).toBe(true);
  });
});
