import { expect, it } from 'vitest';
import { IDEMPOTENCY_TTL_MS } from '../../src/store/index.js';
import { IDEMPOTENCY_PENDING_LEASE_MS } from '../../src/store/idempotency.js';
import { describeStores } from './backends.js';

const LEASE = 120_000;

describeStores('EventRepo', (ctx) => {
  it('claims an event once; a lapsed claim can be taken over, a done one never', async () => {
    const now = ctx.clock.now();
    expect(await ctx.store.events.claim('telegram', 'e1', now, LEASE, '{"text":"hi"}')).toBe(true);
    expect(await ctx.store.events.claim('telegram', 'e1', now + 1000, LEASE)).toBe(false);
    expect(await ctx.store.events.claim('discord', 'e1', now, LEASE)).toBe(true);
    expect(await ctx.store.events.claim('telegram', 'e1', now + LEASE + 1, LEASE)).toBe(true);
    await ctx.store.events.complete('telegram', 'e1');
    expect(await ctx.store.events.claim('telegram', 'e1', now + 10 * LEASE, LEASE)).toBe(false);
  });

  it('lists abandoned claims with their payload, oldest first, and prunes old events', async () => {
    const now = ctx.clock.now();
    await ctx.store.events.claim('telegram', 'late', now - LEASE - 10, LEASE, '{"n":2}');
    await ctx.store.events.claim('telegram', 'early', now - LEASE - 20, LEASE, '{"n":1}');
    await ctx.store.events.claim('telegram', 'live', now, LEASE, '{"n":3}');
    await ctx.store.events.claim('telegram', 'no-payload', now - LEASE - 30, LEASE);
    await ctx.store.events.claim('telegram', 'finished', now - LEASE - 40, LEASE, '{"n":0}');
    await ctx.store.events.complete('telegram', 'finished');
    expect(await ctx.store.events.abandoned(now, LEASE, 10)).toEqual([
      { platform: 'telegram', eventId: 'early', payload: '{"n":1}' },
      { platform: 'telegram', eventId: 'late', payload: '{"n":2}' },
    ]);
    expect(await ctx.store.events.abandoned(now, LEASE, 1)).toHaveLength(1);
    expect(await ctx.store.events.prune(now - LEASE)).toBe(4);
    expect(await ctx.store.events.claim('telegram', 'live', now, LEASE)).toBe(false);
  });
});

describeStores('IdempotencyRepo', (ctx) => {
  it('claims a new key, reports pending and mismatch, replays a completed response', async () => {
    const now = ctx.clock.now();
    expect(await ctx.store.idempotency.begin('k', 'idem-1', 'h1', now)).toEqual({ state: 'new' });
    expect(await ctx.store.idempotency.begin('k', 'idem-1', 'h1', now)).toEqual({ state: 'pending' });
    expect(await ctx.store.idempotency.begin('k', 'idem-1', 'h2', now)).toEqual({ state: 'mismatch' });
    expect(await ctx.store.idempotency.begin('other', 'idem-1', 'h2', now)).toEqual({ state: 'new' });
    await ctx.store.idempotency.complete('k', 'idem-1', 201, { ok: true });
    await ctx.store.idempotency.release('k', 'idem-1');
    expect(await ctx.store.idempotency.begin('k', 'idem-1', 'h1', now + 1000)).toEqual({ state: 'replay', status: 201, response: { ok: true } });
  });

  it('lets a released key run again, and takes over expired records', async () => {
    const now = ctx.clock.now();
    await ctx.store.idempotency.begin('k', 'a', 'h1', now);
    await ctx.store.idempotency.release('k', 'a');
    expect(await ctx.store.idempotency.begin('k', 'a', 'h2', now)).toEqual({ state: 'new' });
    expect(await ctx.store.idempotency.begin('k', 'a', 'h2', now + IDEMPOTENCY_PENDING_LEASE_MS + 1)).toEqual({ state: 'new' });
    await ctx.store.idempotency.complete('k', 'a', 200, 'first');
    const later = now + IDEMPOTENCY_PENDING_LEASE_MS + 1 + IDEMPOTENCY_TTL_MS;
    expect(await ctx.store.idempotency.begin('k', 'a', 'h3', later)).toEqual({ state: 'new' });
    expect(await ctx.store.idempotency.begin('k', 'a', 'h3', later)).toEqual({ state: 'pending' });
  });
});

describeStores('ProactiveRepo', (ctx) => {
  const conv = () => ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'k', characterId: null });

  it('stores settings and schedules, and finds due conversations soonest first', async () => {
    const now = ctx.clock.now();
    const [a, b, c] = [await conv(), await conv(), await conv()];
    expect(await ctx.store.proactive.get('conv_missing')).toBeUndefined();
    expect(await ctx.store.proactive.get(a.id)).toMatchObject({ enabled: null, policy: {}, nextAt: null, unanswered: 0, dayCount: 0, leaseUntil: null });
    await ctx.store.proactive.setSettings(a.id, { enabled: true, policy: { dailyCap: 2, quietHours: null } });
    await ctx.store.proactive.schedule(a.id, now - 10);
    await ctx.store.proactive.schedule(b.id, now - 20);
    await ctx.store.proactive.schedule(c.id, now + 1000);
    expect(await ctx.store.proactive.get(a.id)).toMatchObject({ enabled: true, policy: { dailyCap: 2, quietHours: null }, nextAt: now - 10 });
    expect(await ctx.store.proactive.due(now, 10)).toEqual([b.id, a.id]);
    expect(await ctx.store.proactive.due(now, 1)).toEqual([b.id]);
    await ctx.store.proactive.setSettings(a.id, { enabled: null });
    expect((await ctx.store.proactive.get(a.id))?.enabled).toBeNull();
  });

  it('leases a conversation to one owner at a time until it expires or is released', async () => {
    const now = ctx.clock.now();
    const a = await conv();
    expect(await ctx.store.proactive.claim(a.id, 'one', now, 60_000)).toBe(true);
    expect(await ctx.store.proactive.claim(a.id, 'two', now + 1, 60_000)).toBe(false);
    expect(await ctx.store.proactive.claim(a.id, 'one', now + 2, 60_000)).toBe(true);
    expect(await ctx.store.proactive.claim(a.id, 'two', now + 60_003, 60_000)).toBe(true);
    await ctx.store.proactive.release(a.id, 'one');
    expect((await ctx.store.proactive.get(a.id))?.leaseUntil).toBe(now + 120_003);
    await ctx.store.proactive.release(a.id, 'two');
    expect(await ctx.store.proactive.claim(a.id, 'three', now + 60_004, 60_000)).toBe(true);
  });

  it('counts sent messages per day and resets unanswered when the user speaks', async () => {
    const now = ctx.clock.now();
    const a = await conv();
    await ctx.store.proactive.recordSent(a.id, now, '2026-01-01', now + 100);
    await ctx.store.proactive.recordSent(a.id, now + 1, '2026-01-01', now + 200);
    expect(await ctx.store.proactive.get(a.id)).toMatchObject({ unanswered: 2, day: '2026-01-01', dayCount: 2, lastAt: now + 1, nextAt: now + 200 });
    await ctx.store.proactive.recordSent(a.id, now + 2, '2026-01-02', null);
    expect(await ctx.store.proactive.get(a.id)).toMatchObject({ unanswered: 3, dayCount: 1, nextAt: null });
    await ctx.store.proactive.schedule(a.id, now + 5, { resetUnanswered: true });
    expect(await ctx.store.proactive.get(a.id)).toMatchObject({ unanswered: 0, nextAt: now + 5 });
  });

  it('keeps an outbox of attempts: due rows by state and time, and per conversation', async () => {
    const now = ctx.clock.now();
    const a = await conv();
    const first = await ctx.store.proactive.addOutbox(a.id, 'generating', now, false);
    const second = await ctx.store.proactive.addOutbox(a.id, 'pending', now - 5, true, 'msg_1');
    expect(second).toBeGreaterThan(first);
    expect((await ctx.store.proactive.outboxDue(['pending'], now, 10)).map((r) => [r.id, r.messageId, r.forced, r.createdAt])).toEqual([[second, 'msg_1', true, now - 5]]);
    await ctx.store.proactive.updateOutbox(first, { state: 'pending', messageId: 'msg_0', attempts: 1, nextAttemptAt: now + 1000, error: 'HTTP 429' }, now);
    expect(await ctx.store.proactive.outboxDue(['pending', 'generating'], now, 10)).toHaveLength(1);
    expect(await ctx.store.proactive.outboxDue(['pending'], now + 1000, 10)).toHaveLength(2);
    expect(await ctx.store.proactive.outboxFor(a.id)).toEqual([
      { id: first, state: 'pending', messageId: 'msg_0', attempts: 1, error: 'HTTP 429' },
      { id: second, state: 'pending', messageId: 'msg_1', attempts: 0, error: null },
    ]);
  });
});
