import { expect, it } from 'vitest';
import { describeStores } from './backends.js';

const LEASE = 70_000;

describeStores('WebhookRepo outbox', (ctx) => {
  const delivery = (eventId: string, apiKeyId = 'k') => ({ eventId, apiKeyId, event: 'message.created', payload: `{"id":"${eventId}"}` });

  it('queues an event once and hands out one delivery per key at a time, earliest first', async () => {
    const { webhooks } = ctx.store;
    const now = ctx.clock.now();
    expect(await webhooks.enqueue(delivery('ev1'), now + 10)).toBe(true);
    expect(await webhooks.enqueue(delivery('ev1'), now)).toBe(false);
    await webhooks.enqueue(delivery('ev2'), now);
    await webhooks.enqueue(delivery('ev3', 'j'), now + 5);
    expect(await webhooks.nextDueAt(now)).toBe(now);
    expect(await webhooks.dueKeys(now, 10)).toEqual(['k']);
    expect(await webhooks.dueKeys(now + 10, 10)).toEqual(['k', 'j']);
    expect(await webhooks.dueKeys(now + 10, 10, ['k'])).toEqual(['j']);

    const first = await webhooks.claimNext('k', 'a', now + 10, LEASE);
    expect(first).toMatchObject({ eventId: 'ev2', attempts: 1, createdAt: now });
    expect(await webhooks.forEvent('ev2')).toMatchObject({ state: 'sending', claim_owner: 'a', claim_until: now + 10 + LEASE });
    // ev1 is due too, but k already has one in flight: nobody gets it, and k is not due.
    expect(await webhooks.claimNext('k', 'b', now + 10, LEASE)).toBeNull();
    expect(await webhooks.dueKeys(now + 10, 10)).toEqual(['j']);
    expect(await webhooks.claimNext('j', 'b', now + 10, LEASE)).toMatchObject({ eventId: 'ev3' });
    expect(await webhooks.finish(first!.id, 'a', 'delivered', null, now + 20)).toBe(true);
    expect(await webhooks.claimNext('k', 'b', now + 20, LEASE)).toMatchObject({ eventId: 'ev1' });
  });

  it('claims by compare-and-set: of two racing owners one wins, and only the holder records the outcome', async () => {
    const { webhooks } = ctx.store;
    const now = ctx.clock.now();
    await webhooks.enqueue(delivery('ev1'), now);
    const claims = await Promise.all(['a', 'b', 'c'].map((owner) => webhooks.claimNext('k', owner, now, LEASE)));
    const won = claims.filter((c) => c !== null);
    expect(won).toHaveLength(1);
    const holder = (await webhooks.forEvent('ev1'))!.claim_owner!;
    const other = ['a', 'b', 'c'].find((o) => o !== holder)!;
    expect(await webhooks.finish(won[0]!.id, other, 'delivered', null, now)).toBe(false);
    expect(await webhooks.forEvent('ev1')).toMatchObject({ state: 'sending', claim_owner: holder, attempts: 1 });
  });

  it('lets a lapsed claim be taken over under the same event id, the attempt counted; the old owner can no longer finish', async () => {
    const { webhooks } = ctx.store;
    const now = ctx.clock.now();
    await webhooks.enqueue(delivery('ev1'), now);
    const dead = await webhooks.claimNext('k', 'dead', now, LEASE);
    expect(await webhooks.nextDueAt(now)).toBe(now + LEASE); // wake when the claim lapses
    expect(await webhooks.claimNext('k', 'alive', now + LEASE - 1, LEASE)).toBeNull();
    const taken = await webhooks.claimNext('k', 'alive', now + LEASE, LEASE);
    expect(taken).toMatchObject({ id: dead!.id, eventId: 'ev1', attempts: 2 });
    expect(await webhooks.finish(dead!.id, 'dead', 'failed', 'x', now + LEASE)).toBe(false);
    expect(await webhooks.finish(taken!.id, 'alive', 'delivered', null, now + LEASE)).toBe(true);
    expect(await webhooks.forEvent('ev1')).toMatchObject({ state: 'delivered', attempts: 2, claim_owner: null, claim_until: null });
  });

  it('retries later, finishes, and reports an empty queue', async () => {
    const { webhooks } = ctx.store;
    const now = ctx.clock.now();
    await webhooks.enqueue(delivery('ev1'), now);
    const d = await webhooks.claimNext('k', 'a', now, LEASE);
    expect(await webhooks.retryLater(d!.id, 'a', now + 2000, 'HTTP 500', now)).toBe(true);
    expect(await webhooks.claimNext('k', 'a', now, LEASE)).toBeNull();
    expect(await webhooks.nextDueAt(now)).toBe(now + 2000);
    expect(await webhooks.nextDueAt(now, ['k'])).toBeNull();
    const again = await webhooks.claimNext('k', 'a', now + 2000, LEASE);
    expect(again).toMatchObject({ eventId: 'ev1', attempts: 2 });
    await webhooks.finish(again!.id, 'a', 'delivered', null, now + 2000);
    expect(await webhooks.forEvent('ev1')).toMatchObject({ state: 'delivered', attempts: 2, last_error: null, updated_at: now + 2000 });
    expect(await webhooks.nextDueAt(now + 2000)).toBeNull();
  });
});
