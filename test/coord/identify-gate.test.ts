/**
 * Turns at identifying, shared through Redis: two instances (two coordinations on one prefix)
 * asking for one bucket get it one after the other, never both inside the window; other buckets
 * and other bots are not held up; a wait can be abandoned; without Redis there is no gate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCoordination, type Coordination } from '../../src/coord/index.js';
import { testLogger } from '../helpers/harness.js';
import { hasRedis, redisPrefix } from '../helpers/services.js';

describe.skipIf(!hasRedis())('identify gate across instances', () => {
  const open: Coordination[] = [];
  const prefixes: Array<{ clear(): Promise<number> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await Promise.all(prefixes.splice(0).map((p) => p.clear()));
  });

  async function two(): Promise<[Coordination, Coordination]> {
    const r = redisPrefix();
    prefixes.push(r);
    const make = () => createCoordination({ redisUrl: r.url, redisPrefix: r.prefix, chatLockTtlMs: 3000 }, testLogger());
    const pair = [await make(), await make()] as [Coordination, Coordination];
    open.push(...pair);
    return pair;
  }

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
    open.push(c);
    expect(c.identifyGate).toBeUndefined();
  });
});
