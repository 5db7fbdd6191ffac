/** The hourly housekeeping deletes what is past its retention window, and nothing younger, on both backends. */
import { expect, it } from 'vitest';
import { housekeep } from '../../src/services/housekeeping.js';
import { describeStores } from './backends.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describeStores('housekeeping', (ctx) => {
  it('prunes Idempotency-Key records and updates-feed entries past their windows, finished events and send marks past two days', async () => {
    const start = ctx.clock.now();
    const conv = await ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'k1', characterId: 'char_1' });
    const entry = (text: string) =>
      ctx.store.updates.append({
        apiKeyId: 'k1', conversationId: conv.id, characterId: 'char_1', kind: 'reply',
        message: { id: `msg_${text}`, content: text, sentAt: new Date(ctx.clock.now()).toISOString() },
      });
    const claim = (eventId: string) => ctx.store.events.claim({ platform: 'telegram', eventId, owner: 'i1', now: ctx.clock.now(), deadAfterMs: 10_000, leaseMs: 120_000 });

    await entry('old');
    await ctx.store.idempotency.begin('k1', 'old-done', 'h', ctx.clock.now());
    await ctx.store.idempotency.complete('k1', 'old-done', 200, { ok: true });
    await ctx.store.idempotency.begin('k1', 'old-pending', 'h', ctx.clock.now());
    await claim('old-done');
    await ctx.store.events.complete('telegram', 'old-done');
    await claim('old-unfinished');
    await ctx.store.sendMarks.put('slack:stream:old', 'a');

    ctx.clock.advance(6 * DAY);
    await entry('recent');
    await claim('recent-done');
    await ctx.store.events.complete('telegram', 'recent-done');
    await ctx.store.sendMarks.put('slack:stream:recent', 'b');
    await ctx.store.sendMarks.put('slack:stream:recent', 'c'); // the latest note wins

    ctx.clock.advance(2 * DAY); // "old" is 8 days old now, "recent" 2 days
    const removed = await housekeep(ctx.store, ctx.clock.now(), { idempotencyRetentionHours: 24, updatesRetentionDays: 7 });
    expect(removed).toEqual({ events: 1, idempotency: 2, updates: 1, marks: 1, tallies: 0, proactive: 0, webhooks: 0 });
    expect(await ctx.store.sendMarks.get('slack:stream:old')).toBeUndefined();
    expect(await ctx.store.sendMarks.get('slack:stream:recent')).toBe('c');
    const feed = await ctx.store.updates.list({ apiKeyId: 'k1', limit: 10 });
    expect(feed.updates.map((u) => u.message?.content)).toEqual(['recent']);
    expect(await ctx.store.events.state('telegram', 'old-done')).toBeUndefined();
    expect(await ctx.store.events.state('telegram', 'old-unfinished')).toBe('processing'); // never pruned unfinished
    expect(await ctx.store.events.state('telegram', 'recent-done')).toBe('done');
    // A record inside its window stays; a shorter window for updates removes the 2-day-old entry.
    await ctx.store.idempotency.begin('k1', 'fresh', 'h', ctx.clock.now());
    await ctx.store.idempotency.complete('k1', 'fresh', 200, 'kept');
    ctx.clock.advance(23 * HOUR);
    expect(await housekeep(ctx.store, ctx.clock.now(), { idempotencyRetentionHours: 24, updatesRetentionDays: 1 })).toMatchObject({ idempotency: 0, updates: 1 });
    expect(await ctx.store.idempotency.begin('k1', 'fresh', 'h', ctx.clock.now())).toEqual({ state: 'replay', status: 200, response: 'kept' });
    expect(ctx.clock.now() - start).toBe(8 * DAY + 23 * HOUR);
  });

  it('sweeps the calls a tally left behind once they are an hour old, whichever tally', async () => {
    const t0 = ctx.clock.now();
    // Two tallies fallen silent, the second half an hour after the first.
    await ctx.store.callTally.add('slack:app:tier:chat.update', t0, 60_000);
    await ctx.store.callTally.add('slack:app:tier:chat.startStream', t0 + HOUR / 2, 60_000);
    ctx.clock.advance(HOUR);
    expect(await housekeep(ctx.store, ctx.clock.now(), { idempotencyRetentionHours: 24, updatesRetentionDays: 7 })).toMatchObject({ tallies: 1 });
    expect(await ctx.store.callTally.callsAfter('slack:app:tier:chat.update', 0)).toEqual([]);
    expect(await ctx.store.callTally.callsAfter('slack:app:tier:chat.startStream', 0)).toEqual([t0 + HOUR / 2]);
  });

  it('prunes proactive attempts finished a month ago, never one still in flight', async () => {
    const conv = await ctx.store.conversations.create({ platform: 'telegram', chatType: 'dm', ownerId: null, characterId: null });
    const old = await ctx.store.proactive.addOutbox(conv.id, 'delivered', ctx.clock.now(), false);
    await ctx.store.proactive.addOutbox(conv.id, 'pending', ctx.clock.now(), false);
    ctx.clock.advance(29 * DAY);
    await ctx.store.proactive.addOutbox(conv.id, 'nothing', ctx.clock.now(), false);
    ctx.clock.advance(2 * DAY);
    expect(await housekeep(ctx.store, ctx.clock.now(), { idempotencyRetentionHours: 24, updatesRetentionDays: 7 })).toMatchObject({ proactive: 1 });
    const left = await ctx.store.proactive.outboxFor(conv.id);
    expect(left.map((o) => o.state).sort()).toEqual(['nothing', 'pending']);
    expect(left.some((o) => o.id === old)).toBe(false);
  });

  it('prunes webhook deliveries ended a month ago, never one unfinished or of a proactive message still in flight', async () => {
    const webhooks = ctx.store.webhooks;
    // Each delivery under its own key, so claims never wait on one another.
    const queue = (eventId: string) => webhooks.enqueue({ eventId, apiKeyId: `key_${eventId}`, event: 'proactive_message', payload: '{}' }, ctx.clock.now());
    const end = async (eventId: string, state: 'delivered' | 'failed' | 'dropped' | 'sending') => {
      expect(await queue(eventId)).toBe(true);
      const d = await webhooks.claimNext(`key_${eventId}`, 'i1', ctx.clock.now(), 60_000);
      expect(d?.eventId).toBe(eventId);
      if (state !== 'sending') expect(await webhooks.finish(d!.id, 'i1', state, null, ctx.clock.now())).toBe(true);
    };
    const conv = await ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'k1', characterId: 'char_1' });

    await end('evt_delivered', 'delivered');
    await end('evt_failed', 'failed');
    await end('evt_dropped', 'dropped');
    await queue('evt_pending');
    await end('evt_sending', 'sending'); // its claim lapses long before the prune: still never deleted
    // Proactive messages whose delivery may still run again (so may queue their webhook again)...
    await ctx.store.proactive.addOutbox(conv.id, 'pending', ctx.clock.now(), false, 'msg_retrying');
    await ctx.store.proactive.addOutbox(conv.id, 'sending', ctx.clock.now(), false, 'msg_sending');
    await end('evt_msg_retrying', 'delivered');
    await end('evt_msg_sending', 'failed');
    // ...one whose delivery is over, and one still being made (no message yet: must not stop the prune).
    await ctx.store.proactive.addOutbox(conv.id, 'delivered', ctx.clock.now(), false, 'msg_done');
    await ctx.store.proactive.addOutbox(conv.id, 'generating', ctx.clock.now(), false);
    await end('evt_msg_done', 'delivered');

    ctx.clock.advance(29 * DAY);
    await end('evt_recent', 'delivered');
    ctx.clock.advance(2 * DAY); // the first lot ended 31 days ago, "recent" 2 days ago

    expect(await housekeep(ctx.store, ctx.clock.now(), { idempotencyRetentionHours: 24, updatesRetentionDays: 7 })).toMatchObject({ webhooks: 4 });
    const state = async (eventId: string) => (await webhooks.forEvent(eventId))?.state;
    for (const gone of ['evt_delivered', 'evt_failed', 'evt_dropped', 'evt_msg_done']) expect(await state(gone), gone).toBeUndefined();
    expect(await state('evt_pending')).toBe('pending');
    expect(await state('evt_sending')).toBe('sending');
    expect(await state('evt_msg_retrying')).toBe('delivered');
    expect(await state('evt_msg_sending')).toBe('failed');
    expect(await state('evt_recent')).toBe('delivered');
    expect(await housekeep(ctx.store, ctx.clock.now(), { idempotencyRetentionHours: 24, updatesRetentionDays: 7 })).toMatchObject({ webhooks: 0 });

    // A pruned event id is free again: queueing it once more would send the webhook again. Only
    // a retried delivery of a proactive message in flight queues an id again, and those are kept,
    // so their retry is still ignored.
    expect(await queue('evt_delivered')).toBe(true);
    expect(await state('evt_delivered')).toBe('pending');
    expect(await queue('evt_msg_retrying')).toBe(false);
    expect(await queue('evt_msg_sending')).toBe(false);
  });
});
