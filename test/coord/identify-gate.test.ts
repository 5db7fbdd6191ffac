/**
 * Turns at identifying, shared through Redis: two instances (two coordinations on one prefix)
 * asking for one bucket get it one after the other, never both inside the window; other buckets
 * and other bots are not held up; a wait can be abandoned; without Redis there is no gate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCoordination } from '../../src/coord/index.js';
import { testLogger } from '../helpers/harness.js';
import { hasRedis } from '../helpers/services.js';
import { coordinationPairs } from '../helpers/coordinations.js';

describe.skipIf(!hasRedis())('identify gate across instances', () => {
  const pairs = coordinationPairs();
  afterEach(() => pairs.close());
  const two = () => pairs.two();

  it("holds a bucket's second turn until the first one's window has passed, on the other instance too", async () => {
    const [a, b] = await two();
    const gateA = a.identifyGate!('discord:bot', 60_000);
    const gateB = b.identifyGate!('discord:bot', 60_000);
    await gateA.wait(0);
    const ac = new AbortController();
    let bWent = false;
    const waiting = gateB.wait(0, ac.signal).then(() => void (bWent = true));
    await gateB.wait(1); // another bucket goes at once
    await b.identifyGate!('discord:other-bot', 60_000).wait(0); // and so does another bot
    expect(bWent).toBe(false);
    ac.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });

  it('gives the bucket to the waiting instance once the window has passed', async () => {
    const [a, b] = await two();
    await a.identifyGate!('discord:bot', 150).wait(0);
    const went: string[] = [];
    const turns = [
      b.identifyGate!('discord:bot', 150).wait(0).then(() => void went.push('b')),
      a.identifyGate!('discord:bot', 150).wait(0).then(() => void went.push('a')),
    ];
    await Promise.race(turns);
    // When one of them goes, the other is still held for a window of its own.
    expect(went).toHaveLength(1);
    await Promise.all(turns);
    expect(went.sort()).toEqual(['a', 'b']);
  });

  it('has no gate in a single process (discord.js paces its own shards there)', async () => {
    const c = await createCoordination({ redisPrefix: 'x:', chatLockTtlMs: 3000 }, testLogger());
    const absent = c.identifyGate;
    await c.close();
    expect(absent).toBeUndefined();
  });
});
