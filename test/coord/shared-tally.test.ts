/**
 * A tally of calls shared through Redis (Slack's method tiers across instances): two instances
 * (two coordinations on one prefix) count into one window; the answer says how long until the
 * window has room below its reserve again, and other names count apart.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCoordination } from '../../src/coord/index.js';
import { testLogger } from '../helpers/harness.js';
import { hasRedis } from '../helpers/services.js';
import { coordinationPairs } from '../helpers/coordinations.js';
import { TierGate } from '../../adapters/slack/tiers.js';

describe.skipIf(!hasRedis())('shared call tally across instances', () => {
  const pairs = coordinationPairs();
  afterEach(() => pairs.close());
  const two = () => pairs.two();

  it("counts both instances' calls in one window and says when it has room below the reserve again", async () => {
    const [a, b] = await two();
    const w = { max: 4, windowMs: 60_000, reserve: 1 };
    const ta = a.sharedTally!('slack:app:tier:chat.update', w);
    const tb = b.sharedTally!('slack:app:tier:chat.update', w);
    expect(await ta.add()).toBe(0);
    expect(await tb.add()).toBe(0);
    // The third call fills the window up to its reserve (4 - 1): no more room for a minute.
    const full = await ta.add();
    expect(full).toBeGreaterThan(55_000);
    expect(full).toBeLessThanOrEqual(60_000);
    expect(await tb.add()).toBeGreaterThan(55_000);
    // Asking without calling (a process that starts) gets the same answer and counts nothing.
    const waited = await b.sharedTally!('slack:app:tier:chat.update', w).wait!();
    expect(waited).toBeGreaterThan(55_000);
    expect(waited).toBeLessThanOrEqual(60_000);
    expect(await a.sharedTally!('slack:app:tier:chat.stopStream', w).wait!()).toBe(0);
    expect(await a.sharedTally!('slack:app:tier:chat.stopStream', w).add()).toBe(0);
    // Another method, or another app, counts apart.
    expect(await b.sharedTally!('slack:app:tier:chat.startStream', w).add()).toBe(0);
    expect(await a.sharedTally!('slack:other:tier:chat.update', w).add()).toBe(0);
  });

  it('frees the window as its oldest calls leave it', async () => {
    const [a, b] = await two();
    const w = { max: 2, windowMs: 300 };
    const ta = a.sharedTally!('slack:app:tier:short', w);
    expect(await ta.add()).toBe(0);
    const full = await b.sharedTally!('slack:app:tier:short', w).add();
    expect(full).toBeGreaterThan(0);
    expect(full).toBeLessThanOrEqual(300);
    await new Promise((r) => setTimeout(r, 320));
    expect(await ta.add()).toBe(0);
  });

  it("shares the platform's refusal: after one instance's 429, every instance and a process that starts hold back as long", async () => {
    const [a, b] = await two();
    const w = { max: 50, windowMs: 60_000, reserve: 15 };
    // A Redis that lost its data counts nothing, yet the platform's window is full (a dead instance's calls).
    const ta = a.sharedTally!('slack:app:tier:chat.update', w);
    expect(await ta.add()).toBe(0);
    await ta.refused!(20_000);
    const seen = await b.sharedTally!('slack:app:tier:chat.update', w).add();
    expect(seen).toBeGreaterThan(19_000);
    expect(seen).toBeLessThanOrEqual(20_000);
    // A shorter refusal after it does not shorten it; other methods and apps are not refused.
    await b.sharedTally!('slack:app:tier:chat.update', w).refused!(1000);
    expect(await ta.wait!()).toBeGreaterThan(19_000);
    expect(await a.sharedTally!('slack:app:tier:chat.startStream', w).wait!()).toBe(0);
    expect(await a.sharedTally!('slack:other:tier:chat.update', w).wait!()).toBe(0);

    // Through the Slack tier gate: instance A's 429 holds back B's optional work at once (told over
    // pub/sub, before B makes another call), and a process starting (primed) from its first call.
    let now = 0;
    const startStream = { max: 20, windowMs: 60_000, reserve: 5 };
    const gateOf = (c: typeof a) => new TierGate({ 'chat.startStream': startStream }, () => now, (m, win) => c.sharedTally!(`slack:app:tier:${m}`, win));
    const gateA = gateOf(a);
    const gateB = gateOf(b);
    expect(gateB.tryTake('chat.startStream')).toBe(true);
    gateA.refused('chat.startStream', 30_000);
    expect(gateA.hasRoom('chat.startStream')).toBe(false);
    await vi.waitFor(() => expect(gateB.hasRoom('chat.startStream')).toBe(false));
    expect(gateB.refusalLeft('chat.startStream')).toBe(30_000); // even a final text's call waits: it would be refused
    const starting = gateOf(b);
    await starting.prime();
    expect(starting.hasRoom('chat.startStream')).toBe(false);
    expect(starting.refusalLeft('chat.startStream')).toBeGreaterThan(29_000); // a process that starts holds its first call too
    now = 30_000;
    expect(starting.hasRoom('chat.startStream')).toBe(true);
  });

  it('has no shared tally without Redis: each process counts its own', async () => {
    const local = await createCoordination({ redisPrefix: 'unused:', chatLockTtlMs: 3000 }, testLogger());
    const absent = local.sharedTally;
    await local.close();
    expect(absent).toBeUndefined();
  });
});
