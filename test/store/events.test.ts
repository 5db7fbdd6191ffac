import { expect, it } from 'vitest';
import { IDEMPOTENCY_TTL_MS } from '../../src/store/index.js';
import { IDEMPOTENCY_PENDING_LEASE_MS } from '../../src/store/idempotency.js';
import { describeStores } from './backends.js';

const LEASE = 120_000;

describeStores('EventRepo', (ctx) => {
  const DEAD = 10_000;
  const claim = (eventId: string, owner: string, now: number, payload?: string, platform = 'telegram') =>
    ctx.store.events.claim({ platform, eventId, owner, now, deadAfterMs: DEAD, leaseMs: LEASE, payload: payload ?? null });

  it("claims an event once; a live owner keeps it, a dead owner's claim is taken over, a done one never", async () => {
    const now = ctx.clock.now();
    await ctx.store.instances.register('a', now);
    await ctx.store.instances.register('b', now);
    expect(await claim('e1', 'a', now, '{"text":"hi"}')).toBe(true);
    expect(await claim('e1', 'b', now + 1000)).toBe(false); // a is alive: its long turn is never stolen
    expect(await claim('e1', 'a', now, undefined, 'discord')).toBe(true);
    await ctx.store.instances.beat('b', now + DEAD + 5);
    expect(await claim('e1', 'b', now + DEAD + 5)).toBe(true); // a stopped heartbeating
    await ctx.store.events.complete('telegram', 'e1');
    await ctx.store.instances.beat('a', now + 10 * LEASE);
    expect(await claim('e1', 'a', now + 10 * LEASE)).toBe(false);
  });

  it('lists the claims of dead owners with their payload, oldest first, and prunes only finished events', async () => {
    const now = ctx.clock.now();
    await ctx.store.instances.register('live', now);
    await ctx.store.instances.register('dead', now - 2 * DEAD);
    await claim('late', 'dead', now - 10, '{"n":2}');
    await claim('early', 'dead', now - 20, '{"n":1}');
    await claim('mine', 'live', now - 30, '{"n":3}');
    await claim('no-payload', 'dead', now - 30);
    await claim('finished', 'dead', now - 40, '{"n":0}');
    await ctx.store.events.complete('telegram', 'finished');
    const q = { now, deadAfterMs: DEAD, leaseMs: LEASE, limit: 10 };
    expect(await ctx.store.events.abandoned(q)).toEqual([
      { platform: 'telegram', eventId: 'early', payload: '{"n":1}', owner: 'dead' },
      { platform: 'telegram', eventId: 'late', payload: '{"n":2}', owner: 'dead' },
    ]);
    expect(await ctx.store.events.abandoned({ ...q, limit: 1 })).toHaveLength(1);
    expect(await ctx.store.events.abandoned({ ...q, platform: 'api' })).toEqual([]);
    expect(await ctx.store.events.backlog()).toBe(4);
    expect(await ctx.store.events.prune(now)).toBe(1);
    expect(await claim('mine', 'dead', now)).toBe(false);
  });

  it('lists the claims of dead owners in the order their messages first arrived, which a takeover does not move', async () => {
    const now = ctx.clock.now();
    await ctx.store.instances.register('first-owner', now - 10 * DEAD);
    await ctx.store.instances.register('second-owner', now - 10 * DEAD);
    await claim('arrived-first', 'first-owner', now - 9 * DEAD, '{"n":1}');
    await claim('arrived-second', 'first-owner', now - 9 * DEAD + 1, '{"n":2}');
    // The first owner died; its sweep took the second message over before the first, then died too.
    await ctx.store.instances.beat('second-owner', now - 5 * DEAD);
    expect(await claim('arrived-second', 'second-owner', now - 5 * DEAD)).toBe(true);
    expect(await claim('arrived-first', 'second-owner', now - 5 * DEAD + 1)).toBe(true);
    const rows = await ctx.store.events.abandoned({ now, deadAfterMs: DEAD, leaseMs: LEASE, limit: 10 });
    expect(rows.map((r) => r.eventId)).toEqual(['arrived-first', 'arrived-second']);
  });

  it('claims an API turn and reserves its credits in one transaction', async () => {
    const now = ctx.clock.now();
    await ctx.store.instances.register('a', now);
    const { apiKey } = await ctx.store.apiKeys.create({ name: 'k', credits: 2 });
    const paid = (eventId: string, cost: number) =>
      ctx.store.events.claimPaid({ platform: 'api', eventId, owner: 'a', now, deadAfterMs: DEAD, leaseMs: LEASE, payload: '{}' }, apiKey.id, cost);
    expect(await paid('t1', 1)).toBe('claimed');
    expect(await paid('t1', 1)).toBe('duplicate');
    expect(await paid('t2', 2)).toBe('no-credits');
    expect((await ctx.store.apiKeys.get(apiKey.id))?.creditsUsed).toBe(1); // the duplicate's reservation was rolled back
    expect(await ctx.store.events.abandoned({ now, deadAfterMs: DEAD, leaseMs: LEASE, limit: 10, platform: 'api' })).toEqual([]);
  });

  it('counts the backlog: claimed and not finished, whether live or abandoned', async () => {
    const now = ctx.clock.now();
    expect(await ctx.store.events.backlog()).toBe(0);
    await ctx.store.instances.register('a', now);
    const claim = (platform: string, eventId: string, at: number) =>
      ctx.store.events.claim({ platform, eventId, owner: 'a', now: at, deadAfterMs: DEAD, leaseMs: LEASE, payload: '{}' });
    await claim('telegram', 'b-live', now);
    await claim('slack', 'b-abandoned', now - 10 * LEASE);
    await claim('discord', 'b-done', now);
    await ctx.store.events.complete('discord', 'b-done');
    expect(await ctx.store.events.backlog()).toBe(2);
    expect(await ctx.store.pendingMigrations()).toEqual([]);
  });

  it("lists a chat's other unfinished messages in arrival order (not moved by a takeover), saying which came after a given one and whose owner is gone", async () => {
    const now = ctx.clock.now();
    await ctx.store.instances.register('live', now);
    await ctx.store.instances.register('dead', now - 2 * DEAD);
    const inChat = (eventId: string, owner: string, at: number, chatKey = 'chat-1') =>
      ctx.store.events.claim({ platform: 'telegram', eventId, owner, now: at, deadAfterMs: DEAD, leaseMs: LEASE, payload: '{}', chatKey });
    await inChat('too-old', 'dead', now - 5000);
    await inChat('first', 'dead', now - 50);
    await inChat('handed-off', 'live', now - 45);
    await ctx.store.events.release('telegram', 'handed-off', 'live');
    await inChat('second', 'live', now - 40);
    await inChat('answered', 'dead', now - 35);
    await ctx.store.events.complete('telegram', 'answered');
    await inChat('elsewhere', 'dead', now - 30, 'chat-2');
    await inChat('this-one', 'live', now - 20);
    await inChat('later', 'live', now - 10);
    const q = { chatKey: 'chat-1', now, since: now - 1000, deadAfterMs: DEAD, leaseMs: LEASE, limit: 10 };
    await inChat('not-yet', 'live', now + 10); // arrived after the question was asked
    const around = (eventId: string) => ({ ...q, own: { platform: 'telegram', eventId } });
    expect(await ctx.store.events.unfinishedInChat(around('this-one'))).toEqual([
      { platform: 'telegram', eventId: 'first', ownerGone: true, afterOwn: false },
      { platform: 'telegram', eventId: 'handed-off', ownerGone: true, afterOwn: false },
      { platform: 'telegram', eventId: 'second', ownerGone: false, afterOwn: false },
      { platform: 'telegram', eventId: 'later', ownerGone: false, afterOwn: true },
      { platform: 'telegram', eventId: 'not-yet', ownerGone: false, afterOwn: true },
    ]);
    // Taken over, the first message keeps its place: its claim's time moved, its arrival did not.
    expect(await inChat('first', 'live', now)).toBe(true);
    expect((await ctx.store.events.unfinishedInChat(around('second'))).map((e) => [e.eventId, e.ownerGone, e.afterOwn])).toEqual([
      ['first', false, false],
      ['handed-off', true, false],
      ['this-one', false, true],
      ['later', false, true],
      ['not-yet', false, true],
    ]);
    // A turn with no claim of its own yet (or none at all) comes after everything before now.
    const all = ['first', 'handed-off', 'second', 'this-one', 'later'];
    expect((await ctx.store.events.unfinishedInChat(around('not-claimed-yet'))).map((e) => [e.eventId, e.afterOwn])).toEqual([...all.map((e) => [e, false]), ['not-yet', true]]);
    expect((await ctx.store.events.unfinishedInChat(q)).map((e) => [e.eventId, e.afterOwn])).toEqual(all.map((e) => [e, false]));
    // Told when it arrived, it comes then: a message of its platform batch claimed before it came after it.
    expect((await ctx.store.events.unfinishedInChat({ ...around('not-claimed-yet'), ownArrivedAt: now - 15 })).map((e) => [e.eventId, e.afterOwn])).toEqual([
      ...all.slice(0, -1).map((e) => [e, false]),
      ['later', true],
      ['not-yet', true],
    ]);
    // Its claim, once there, says when it arrived (a takeover keeps its first arrival).
    expect((await ctx.store.events.unfinishedInChat({ ...around('second'), ownArrivedAt: now + 100 })).map((e) => [e.eventId, e.afterOwn])).toEqual([
      ['first', false],
      ['handed-off', false],
      ['this-one', true],
      ['later', true],
      ['not-yet', true],
    ]);
    expect(await ctx.store.events.unfinishedInChat({ ...q, limit: 2 })).toHaveLength(2);
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
    await ctx.store.idempotency.release('k', 'idem-1', { createdAt: now, turnId: null });
    expect(await ctx.store.idempotency.begin('k', 'idem-1', 'h1', now + 1000)).toEqual({ state: 'replay', status: 201, response: { ok: true } });
  });

  it('lets a released key run again, and takes over expired records', async () => {
    const now = ctx.clock.now();
    await ctx.store.idempotency.begin('k', 'a', 'h1', now);
    await ctx.store.idempotency.release('k', 'a', { createdAt: now, turnId: null });
    expect(await ctx.store.idempotency.begin('k', 'a', 'h2', now)).toEqual({ state: 'new' });
    // A late release of an earlier claim never frees the claim a later request made.
    await ctx.store.idempotency.release('k', 'a', { createdAt: now - 1, turnId: null });
    expect(await ctx.store.idempotency.begin('k', 'a', 'h2', now)).toEqual({ state: 'pending' });
    expect(await ctx.store.idempotency.begin('k', 'a', 'h2', now + IDEMPOTENCY_PENDING_LEASE_MS + 1)).toEqual({ state: 'new' });
    await ctx.store.idempotency.complete('k', 'a', 200, 'first');
    const later = now + IDEMPOTENCY_PENDING_LEASE_MS + 1 + IDEMPOTENCY_TTL_MS;
    expect(await ctx.store.idempotency.begin('k', 'a', 'h3', later)).toEqual({ state: 'new' });
    expect(await ctx.store.idempotency.begin('k', 'a', 'h3', later)).toEqual({ state: 'pending' });
  });

  it("tells a dead owner's pending key apart from a live one's, and lets one instance take it over", async () => {
    const now = ctx.clock.now();
    const DEAD = 10_000;
    const runner = (instanceId: string, turnId: string) => ({ instanceId, deadAfterMs: DEAD, turnId });
    await ctx.store.instances.register('a', now);
    await ctx.store.instances.register('b', now);
    expect(await ctx.store.idempotency.begin('k', 'x', 'h', now, runner('a', 't1'))).toEqual({ state: 'new' });
    expect(await ctx.store.idempotency.begin('k', 'x', 'h', now + 1, runner('b', 't2'))).toEqual({ state: 'pending' }); // a lives
    const later = now + DEAD + 1;
    await ctx.store.instances.beat('b', later);
    const orphan = await ctx.store.idempotency.begin('k', 'x', 'h', later, runner('b', 't2'));
    expect(orphan).toEqual({ state: 'orphaned', turnId: 't1', owner: 'a', createdAt: now });
    if (orphan.state !== 'orphaned') return;
    expect(await ctx.store.idempotency.takeOver('k', 'x', orphan, runner('b', 't2'), later)).toBe(true);
    expect(await ctx.store.idempotency.takeOver('k', 'x', orphan, runner('c', 't3'), later)).toBe(false); // taken already
    expect(await ctx.store.idempotency.begin('k', 'x', 'h', later, runner('c', 't3'))).toEqual({ state: 'pending' }); // b lives
    // Past the pending lease, even a live owner's key is judged by its turn (its response's record may never land), not run anew.
    const leaseOver = later + IDEMPOTENCY_PENDING_LEASE_MS + 1;
    await ctx.store.instances.beat('b', leaseOver);
    expect(await ctx.store.idempotency.begin('k', 'x', 'h', leaseOver, runner('b', 't4'))).toEqual({ state: 'orphaned', turnId: 't2', owner: 'b', createdAt: later });
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

describeStores(
  'EventRepo completions under load',
  (ctx) => {
    it('marks a delivered event done while every connection of the main pool is busy', async () => {
      const now = ctx.clock.now();
      await ctx.store.instances.register('me', now);
      await ctx.store.events.claim({ platform: 'telegram', eventId: 'sent', owner: 'me', now, deadAfterMs: 10_000, leaseMs: LEASE, payload: '{}' });
      // pg's pool holds 10 connections: a burst of turns holding all of them, and more waiting.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let begun = 0;
      const busy = Array.from({ length: 12 }, () =>
        ctx.store.db.transaction().execute(async (tx) => {
          await tx.selectFrom('instances').select('id').execute();
          begun++;
          await gate;
        }),
      );
      await expect.poll(() => begun).toBe(10);
      // Until this commits a crash sends the reply again, so it does not queue behind the burst.
      await ctx.store.events.complete('telegram', 'sent');
      release();
      await Promise.all(busy);
      expect(await ctx.store.events.state('telegram', 'sent')).toBe('done');
    });
  },
  ['postgres'],
);
