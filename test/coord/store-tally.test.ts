/**
 * Slack's tier counts kept in the database by a single instance (no Redis): calls made before a
 * restart still count after it, on SQLite and on PostgreSQL. The tally answers as the Redis one
 * does (how long until the window has room below its reserve), and a Slack tier gate made after a
 * restart starts with optional work held back while the calls before it fill the tier.
 */
import { expect, it, vi } from 'vitest';
import { storeCallTallies, storeChatTallies } from '../../src/coord/store-tally.js';
import { TierGate } from '../../adapters/slack/tiers.js';
import { testLogger } from '../helpers/harness.js';
import { describeStores } from '../store/backends.js';

describeStores('call tally in the database', (ctx) => {
  const tier = { max: 4, windowMs: 60_000, reserve: 1 };
  const tallies = () => storeCallTallies(ctx.store.callTally, testLogger(), () => ctx.clock.now());

  it('counts calls in a sliding window, keeps only the window, and names count apart', async () => {
    const t0 = ctx.clock.now();
    const update = tallies()('slack:app:tier:chat.update', tier);
    expect(await update.add()).toBe(0);
    ctx.clock.advance(1000);
    expect(await update.add()).toBe(0);
    ctx.clock.advance(1000);
    // The third call fills the window up to its reserve (4 - 1): room again when the first leaves it.
    expect(await update.add()).toBe(58_000);
    expect(await update.wait!()).toBe(58_000);
    expect(await tallies()('slack:app:tier:chat.startStream', tier).wait!()).toBe(0);
    expect(await tallies()('slack:other:tier:chat.update', tier).add()).toBe(0);
    ctx.clock.advance(58_000);
    expect(await update.wait!()).toBe(0);
    // Recording prunes what left the window: only the calls of the last minute stay (three again: full until the oldest leaves).
    expect(await update.add()).toBe(1000);
    expect(await ctx.store.callTally.callsAfter('slack:app:tier:chat.update', 0)).toEqual([t0 + 1000, t0 + 2000, t0 + 60_000]);
  });

  it('keeps a chat’s send noted ahead of time, and moves it to a later answer', async () => {
    const chat = storeChatTallies(ctx.store.callTally, testLogger(), () => ctx.clock.now())('slack:app:chat:C1', { max: 3, windowMs: 3000, reserve: 1 });
    const t0 = ctx.clock.now();
    await chat.add(t0 + 120); // leaves now, dated 120 ms ahead
    await chat.add(t0 + 200);
    await chat.move!(t0 + 200, t0 + 450); // its answer came later than that
    expect(await chat.calls!()).toEqual([t0 + 120, t0 + 450]);
    // Pruning goes by the clock, not by a note's date: 3 s on, only what was dated 3 s ago or earlier goes.
    ctx.clock.advance(3200);
    await chat.add();
    expect(await chat.calls!()).toEqual([t0 + 450, t0 + 3200]);
    expect(await ctx.store.callTally.callsAfter('slack:app:chat:C1', 0)).toEqual([t0 + 450, t0 + 3200]);
  });

  it('holds a restarted process’s optional work back while the calls before the restart fill the tier', async () => {
    const before = new TierGate({ 'chat.update': tier }, () => ctx.clock.now(), (method, w) => tallies()(`slack:app:tier:${method}`, w));
    // The gate counts into the tally in the background; wait until the database has all three.
    const settled = () => vi.waitFor(async () => expect(await ctx.store.callTally.callsAfter('slack:app:tier:chat.update', 0)).toHaveLength(3));
    expect([before.tryTake('chat.update'), before.tryTake('chat.update'), before.tryTake('chat.update')]).toEqual([true, true, true]);
    await settled();
    ctx.clock.advance(5000);

    // A new process (no calls of its own yet) on the same database.
    const after = new TierGate({ 'chat.update': tier }, () => ctx.clock.now(), (method, w) => tallies()(`slack:app:tier:${method}`, w));
    expect(after.hasRoom('chat.update')).toBe(true); // what it would have believed before
    await after.prime();
    expect(after.hasRoom('chat.update')).toBe(false);
    ctx.clock.advance(54_999);
    expect(after.hasRoom('chat.update')).toBe(false);
    ctx.clock.advance(1);
    expect(after.hasRoom('chat.update')).toBe(true);

    // Two calls of a tier before the restart: a burst right after it (a crash's recovery) gets the one slot left below the reserve, not three.
    const twice = new TierGate({ 'chat.startStream': tier }, () => ctx.clock.now(), (method, w) => tallies()(`slack:app:tier:${method}`, w));
    expect([twice.tryTake('chat.startStream'), twice.tryTake('chat.startStream')]).toEqual([true, true]);
    await vi.waitFor(async () => expect(await ctx.store.callTally.callsAfter('slack:app:tier:chat.startStream', 0)).toHaveLength(2));
    const again = new TierGate({ 'chat.startStream': tier }, () => ctx.clock.now(), (method, w) => tallies()(`slack:app:tier:${method}`, w));
    await again.prime();
    expect([again.tryTake('chat.startStream'), again.tryTake('chat.startStream'), again.tryTake('chat.startStream')]).toEqual([true, false, false]);

    // Nothing before it: a fresh start is not held back.
    const fresh = new TierGate({ 'chat.stopStream': tier }, () => ctx.clock.now(), tallies());
    await fresh.prime();
    expect(fresh.hasRoom('chat.stopStream')).toBe(true);
  });
});
