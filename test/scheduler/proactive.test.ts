import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { inbound, say, seen, type Harness } from '../helpers/harness.js';
import { NOTHING_TO_SAY, ProactiveScheduler, type ProactiveTarget } from '../../src/scheduler/index.js';
import { MIN, RecordingTarget, defaults, startProactiveHarness } from './helpers.js';
import { dropOnce } from '../helpers/dropped-connection.js';

type PH = Awaited<ReturnType<typeof startProactiveHarness>>;
const open: PH[] = [];
async function start(opts: Parameters<typeof startProactiveHarness>[0] = {}) {
  const p = await startProactiveHarness(opts);
  open.push(p);
  return p;
}
afterEach(async () => {
  while (open.length) await open.pop()!.h.close();
});

describe('proactive scheduler', () => {
  it('reaches out after the idle time, stored as the character’s own proactive turn', async () => {
    const { h, clock, target, scheduler } = await start();
    h.fake.respondWith(({ messages }) => (JSON.stringify(messages).includes('[proactive]') ? 'Hey, how did the exam go?' : 'Good luck!'));
    await say(h.engine, inbound({ text: 'exam tomorrow' }));
    clock.advance(59 * MIN);
    expect((await scheduler.tick()).sent).toBe(0);
    clock.advance(1 * MIN);
    const r = await scheduler.tick();
    expect(r).toMatchObject({ due: 1, sent: 1, delivered: 1 });
    expect(target.delivered).toEqual([expect.objectContaining({ character: 'Aria', text: 'Hey, how did the exam go?', kind: 'proactive' })]);
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const stored = await h.store.messages.newest(conv.id, { limit: 5 });
    expect(stored.map((m) => [m.role, m.kind])).toEqual([['assistant', 'proactive'], ['assistant', 'assistant'], ['user', 'user']]);
    // The proactive turn is part of the context of later turns, as the character's own line.
    await say(h.engine, inbound({ text: 'it went well' }));
    expect(seen(h.fake).slice(-2)).toEqual(['assistant: Hey, how did the exam go?', 'user: it went well']);
  });

  it('does not reach out while the character alone is over CONTEXT_TOKENS: no model call, nothing stored, looked at again later', async () => {
    const { h, clock, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'exam tomorrow' }));
    clock.advance(60 * MIN);
    const aria = (await h.store.characters.findVisible('aria', null))!;
    await h.store.characters.update(aria.id, { scenario: 'A long scenario. '.repeat(3000) });
    const asked = h.fake.requests.length;
    expect(await scheduler.tick()).toMatchObject({ due: 1, sent: 0, failed: 1 });
    expect(h.fake.requests.length).toBe(asked);
    expect(target.delivered).toEqual([]);
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    expect((await h.store.messages.newest(conv.id, { limit: 5 })).map((m) => m.kind)).toEqual(['assistant', 'user']);
    // Shortened again, the character reaches out at the next look (a quarter of the gap later).
    clock.advance(30 * MIN);
    await h.store.characters.update(aria.id, { scenario: 'A short scenario.' });
    expect(await scheduler.tick()).toMatchObject({ sent: 1 });
    expect(target.delivered).toHaveLength(1);
  });

  it('reaches out to the user as their persona: its name and description, as their own turns see them', async () => {
    const { h, clock, scheduler } = await start();
    await say(h.engine, inbound({ text: '/persona name Kit' }));
    await say(h.engine, inbound({ text: '/persona set A retired sea captain with a parrot' }));
    await say(h.engine, inbound({ text: 'exam tomorrow' }));
    clock.advance(60 * MIN);
    expect((await scheduler.tick()).sent).toBe(1);
    const system = seen(h.fake)[0] ?? '';
    expect(system).toContain('talking with Kit.');
    expect(system).toMatch(/About Kit, who you are talking with: A retired sea captain with a parrot/);
    expect(system).not.toContain('talking with Sam');
  });

  it('keeps the gap, stops after maxUnanswered, and resumes when the user answers', async () => {
    const { h, clock, target, scheduler } = await start({ defaults: { maxUnanswered: 2 } });
    await say(h.engine, inbound({ text: 'hi' }));
    clock.advance(60 * MIN);
    await scheduler.tick();
    clock.advance(60 * MIN); // idle again but within the 120-minute gap
    expect((await scheduler.tick()).sent).toBe(0);
    clock.advance(60 * MIN);
    expect((await scheduler.tick()).sent).toBe(1);
    clock.advance(600 * MIN);
    expect((await scheduler.tick()).sent).toBe(0); // two unanswered: no nagging
    expect(target.delivered).toHaveLength(2);
    await say(h.engine, inbound({ text: 'sorry, was busy' }));
    clock.advance(120 * MIN);
    expect((await scheduler.tick()).sent).toBe(1);
  });

  it('re-times from the settings stored now, also when another process changed them since the last message', async () => {
    const { h, clock } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const nextAt = async () => (await h.store.proactive.get(conv.id))!.nextAt;
    const lastMessageAt = async () => Date.parse((await h.store.messages.newest(conv.id, { limit: 1 }))[0]!.createdAt);
    expect(await nextAt()).toBe((await lastMessageAt()) + 60 * MIN);
    // Another instance changes the idle time (its own re-timing is not this scheduler's).
    await h.store.db.updateTable('conversations').set({ proactive_policy: JSON.stringify({ minIdleMinutes: 300 }) }).where('id', '=', conv.id).execute();
    clock.advance(5 * MIN);
    await say(h.engine, inbound({ text: 'still there?' }));
    expect(await nextAt()).toBe((await lastMessageAt()) + 300 * MIN);
    // And back to the default, through the scheduler's own settings path.
    await h.store.db.updateTable('conversations').set({ proactive_policy: null }).where('id', '=', conv.id).execute();
    await say(h.engine, inbound({ text: 'ok' }));
    expect(await nextAt()).toBe((await lastMessageAt()) + 60 * MIN);
  });

  it('respects the daily cap', async () => {
    const { h, clock, scheduler } = await start({ defaults: { dailyCap: 1, minGapMinutes: 1 }, start: Date.UTC(2026, 5, 1, 1, 0) });
    await say(h.engine, inbound({ text: 'hi' }));
    clock.advance(60 * MIN);
    expect((await scheduler.tick()).sent).toBe(1);
    await say(h.engine, inbound({ text: 'answer' }));
    clock.advance(61 * MIN);
    const r = await scheduler.tick();
    expect(r.skipped['daily-cap']).toBe(1);
    clock.set(Date.UTC(2026, 5, 2, 0, 1));
    expect((await scheduler.tick()).sent).toBe(1);
  });

  it('waits out quiet hours across midnight in the conversation’s time zone', async () => {
    const { h, clock, scheduler } = await start({ start: Date.UTC(2026, 0, 10, 20, 0) });
    await say(h.engine, inbound({ text: 'night' }));
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    await h.store.proactive.setSettings(conv.id, { policy: { quietHours: { start: '23:00', end: '08:00', timezone: 'Europe/Berlin' } } });
    clock.set(Date.UTC(2026, 0, 10, 22, 30)); // 23:30 in Berlin
    expect((await scheduler.tick()).skipped['quiet-hours']).toBe(1);
    clock.set(Date.UTC(2026, 0, 11, 6, 59));
    expect((await scheduler.tick()).sent).toBe(0);
    clock.set(Date.UTC(2026, 0, 11, 7, 0)); // 08:00 in Berlin
    expect((await scheduler.tick()).sent).toBe(1);
  });

  it('honours /proactive off, across a restart of the scheduler', async () => {
    const { h, clock, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    expect((await say(h.engine, inbound({ text: '/proactive off' }))).notices[0]).toMatch(/off/);
    clock.advance(600 * MIN);
    expect((await scheduler.tick()).sent).toBe(0);
    const restarted = new ProactiveScheduler({ engine: h.engine, store: h.store, clock: h.clock, log: h.log, target }, { defaults });
    expect((await restarted.tick()).sent).toBe(0);
    await say(h.engine, inbound({ text: '/proactive on' }));
    clock.advance(60 * MIN);
    expect((await restarted.tick()).sent).toBe(1);
  });

  it('is off in groups until an admin turns it on, and refuses members', async () => {
    const { h, clock, scheduler } = await start();
    const g = { chatId: '-5', chatType: 'group' as const, mentioned: true };
    await say(h.engine, inbound({ ...g, text: 'hello group' }));
    clock.advance(600 * MIN);
    expect((await scheduler.tick()).due).toBe(0);
    expect((await say(h.engine, inbound({ ...g, text: '/proactive on' }))).notices[0]).toMatch(/Only chat admins/);
    await say(h.engine, inbound({ ...g, senderIsAdmin: true, text: '/admin proactive on' }));
    clock.advance(60 * MIN);
    expect((await scheduler.tick()).sent).toBe(1);
  });

  it('records "nothing to say" and sends nothing', async () => {
    const { h, clock, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    h.fake.respondWith(NOTHING_TO_SAY);
    clock.advance(60 * MIN);
    expect(await scheduler.tick()).toMatchObject({ sent: 0, nothing: 1 });
    expect(target.delivered).toEqual([]);
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    expect((await h.store.proactive.outboxFor(conv.id)).map((o) => o.state)).toEqual(['nothing']);
    expect((await h.store.messages.newest(conv.id, { limit: 10 })).some((m) => m.kind === 'proactive')).toBe(false);
  });

  it('never starts with a character that may not initiate', async () => {
    const { h, clock, scheduler } = await start();
    await say(h.engine, inbound({ text: '/character Nyx' }));
    await say(h.engine, inbound({ text: 'hi' }));
    clock.advance(6000 * MIN);
    expect((await scheduler.tick()).sent).toBe(0);
  });

  it('retries a failed delivery from the outbox and sends it once', async () => {
    const { h, clock, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    target.failNext = 1;
    clock.advance(60 * MIN);
    expect(await scheduler.tick()).toMatchObject({ sent: 1, delivered: 0 });
    clock.advance(1 * MIN);
    expect((await scheduler.tick()).delivered).toBe(1);
    clock.advance(1 * MIN);
    await scheduler.tick();
    expect(target.delivered).toHaveLength(1);
  });

  it('a delivery whose database dropped under it after its claim is sent by the next tick, once, not left claimed for good', async () => {
    const { h, clock, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    target.failNext = 1;
    clock.advance(60 * MIN);
    expect(await scheduler.tick()).toMatchObject({ sent: 1, delivered: 0 });
    const row = (await h.store.proactive.outboxFor(conv.id))[0]!;
    // The retry claims the row, then reading its message meets a dropped connection.
    dropOnce(h.store.messages, 'get', { only: (id: string) => id === row.messageId });
    clock.advance(2 * MIN);
    await expect(scheduler.tick()).rejects.toThrow(/cannot be reached/);
    expect(await h.store.proactive.outboxFor(conv.id)).toMatchObject([{ state: 'claimed' }]);
    // This process is alive and working on nothing: its own claim is as over as a dead one's.
    clock.advance(MIN);
    await scheduler.tick();
    expect(target.delivered.map((d) => d.kind)).toEqual(['proactive']);
    expect(await h.store.proactive.outboxFor(conv.id)).toMatchObject([{ state: 'delivered' }]);
    clock.advance(MIN);
    await scheduler.tick();
    expect(target.delivered).toHaveLength(1);
  });

  it('between ticks, sends a due retry only once it has been due for INSTANCE_DEAD_AFTER_MS, leaving one due just now to its instance', async () => {
    const { h, clock, target, scheduler } = await start({ deadAfterMs: 10_000 });
    await say(h.engine, inbound({ text: 'hi' }));
    target.failNext = 1;
    clock.advance(60 * MIN);
    expect(await scheduler.tick()).toMatchObject({ sent: 1, delivered: 0 });
    const sweep = async () => {
      scheduler.startSweeping();
      scheduler.recoverBetweenTicks();
      await scheduler.stopSweeping();
    };
    clock.advance(MIN + 1000); // the retry has been due for a second
    await sweep();
    expect(target.delivered).toHaveLength(0);
    clock.advance(10_000);
    await sweep();
    expect(target.delivered.map((d) => d.kind)).toEqual(['proactive']);
    await sweep();
    expect(target.delivered).toHaveLength(1);
  });

  it('takes back a delivery left unfinished only as it was listed: one that ended since the listing is not sent again', async () => {
    const { h, clock, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    clock.advance(60 * MIN);
    expect(await scheduler.tick()).toMatchObject({ sent: 1, delivered: 1 });
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const row = (await h.store.proactive.outboxFor(conv.id))[0]!;
    // The sweep's listing was read while this process still had the row claimed; its delivery ended since.
    const listing = h.store.proactive.leftUnfinished.bind(h.store.proactive);
    h.store.proactive.leftUnfinished = async (...args) => [...(await listing(...args)), { id: row.id, conversationId: conv.id, attempts: 0, state: 'claimed', owner: scheduler.owner }];
    clock.advance(MIN);
    scheduler.startSweeping();
    scheduler.recoverBetweenTicks();
    await scheduler.stopSweeping();
    await scheduler.tick();
    expect(target.delivered).toHaveLength(1);
    expect(await h.store.proactive.outboxFor(conv.id)).toMatchObject([{ state: 'delivered' }]);
  });

  it('bypasses the policy for a test send', async () => {
    const { h, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    const r = await say(h.engine, inbound({ senderIsAdmin: true, text: '/admin proactive test' }));
    expect(r.notices).toEqual(['Proactive test sent.']);
    expect(target.delivered).toHaveLength(1);
    void scheduler;
  });
});

/** Another process's scheduler on the same engine and store, delivering through `deliver` (by default one that never returns). */
function otherProcess(h: Harness, owner: string, deliver: ProactiveTarget['deliver'] = () => new Promise(() => {})): ProactiveScheduler {
  return new ProactiveScheduler({ engine: h.engine, store: h.store, clock: h.clock, log: h.log, target: { deliver } }, { defaults, owner, leaseMs: 5 * MIN });
}

/** A DM due for a proactive message, which process `crashed` has begun and never finishes delivering. */
async function dueAndBegunByCrashedProcess() {
  const w = await start();
  await say(w.h.engine, inbound({ text: 'hi' }));
  w.clock.advance(60 * MIN);
  void otherProcess(w.h, 'crashed').tick();
  return { ...w, conv: (await w.h.store.conversations.getByScope('telegram:1'))! };
}

describe('exactly once across processes and crashes', () => {
  it('two schedulers on one database send one message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-'));
    try {
      const a = await start({ dbPath: join(dir, 'db.sqlite'), owner: 'A' });
      const b = await start({ dbPath: join(dir, 'db.sqlite'), owner: 'B' });
      await say(a.h.engine, inbound({ text: 'hi' }));
      a.h.fake.setChunkDelay(5);
      a.clock.advance(60 * MIN);
      b.clock.set(a.clock.now());
      const [ra, rb] = await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
      expect(ra.sent + rb.sent).toBe(1);
      expect(a.target.delivered.length + b.target.delivered.length).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two ticks of one process at once (BullMQ runs several jobs side by side) make one message', async () => {
    const { h, clock, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    clock.advance(60 * MIN);
    let finish!: () => void;
    const held = new Promise<void>((r) => (finish = r));
    h.fake.respondWith(async ({ messages }) => (JSON.stringify(messages).includes('[proactive]') ? (await held, 'reach out') : 'ok'));
    const ticks = [scheduler.tick(), scheduler.tick()];
    await expect.poll(() => h.fake.requests.filter((r) => JSON.stringify(r.body).includes('[proactive]')).length).toBe(1);
    finish();
    const [a, b] = await Promise.all(ticks);
    expect(a!.sent + b!.sent).toBe(1);
    expect(target.delivered).toHaveLength(1);
    expect(h.fake.requests.filter((r) => JSON.stringify(r.body).includes('[proactive]'))).toHaveLength(1);
  });

  it('a crash between the model and delivery delivers the stored message once after restart', async () => {
    // Process "crashed" generates and stores the message, then never gets to deliver it.
    const { h, clock, target, scheduler, conv } = await dueAndBegunByCrashedProcess();
    await expect.poll(async () => (await h.store.messages.newest(conv.id, { limit: 1 }))[0]?.kind).toBe('proactive');
    // Rewind its outbox row to the state a crash right after the model call leaves behind:
    // still "generating", lease held by the dead process.
    const row = (await h.store.proactive.outboxFor(conv.id))[0]!;
    await h.store.proactive.updateOutbox(row.id, { state: 'generating', nextAttemptAt: clock.now() + 5 * MIN }, clock.now());
    await h.store.db.updateTable('conversations').set({ proactive_lease_until: clock.now() + 5 * MIN, proactive_lease_owner: 'crashed' }).where('id', '=', conv.id).execute();

    expect((await scheduler.tick()).recovered).toBe(0); // the lease is still live: hands off
    clock.advance(6 * MIN);
    expect(await scheduler.tick()).toMatchObject({ recovered: 1, sent: 0 }); // delivered, not regenerated
    clock.advance(30 * MIN);
    await scheduler.tick();
    expect(target.delivered).toHaveLength(1);
    expect(await h.store.messages.newest(conv.id, { limit: 10, kinds: ['proactive'] })).toHaveLength(1);
    expect(h.fake.requests.filter((r) => JSON.stringify(r.body).includes('[proactive]'))).toHaveLength(1);
  });

  describe('a generation whose instance stopped is taken over at once, not after its lease', () => {
    /** A live instance `live` (heartbeating, instances dead after 10 s) and a DM due for a proactive message. */
    async function liveInstance() {
      const w = await start({ owner: 'live', deadAfterMs: 10_000 });
      await say(w.h.engine, inbound({ text: 'hi' }));
      w.clock.advance(60 * MIN);
      await w.h.store.instances.register('live', w.clock.now());
      return { ...w, conv: (await w.h.store.conversations.getByScope('telegram:1'))! };
    }
    /** What an instance leaves when it stops mid-generation: its `generating` row and the conversation's lease, 5 minutes to run. */
    async function stoppedMidGeneration(h: Harness, conversationId: string, owner: string, now: number) {
      await h.store.db.updateTable('conversations').set({ proactive_lease_until: now + 5 * MIN, proactive_lease_owner: owner }).where('id', '=', conversationId).execute();
      const id = await h.store.proactive.addGeneration(conversationId, now, false, owner, 5 * MIN);
      if (typeof id !== 'number') throw new Error(`could not add the generation: ${id}`);
      return id;
    }
    const outbox = async (h: Harness, id: string) => (await h.store.proactive.outboxFor(id)).map((r) => r.state);

    it('delivers the message it had stored, once, without generating another', async () => {
      const { h, clock, target, scheduler, conv } = await liveInstance();
      const id = await stoppedMidGeneration(h, conv.id, 'stopped', clock.now() - 1000);
      await h.store.messages.append({ conversationId: conv.id, role: 'assistant', kind: 'proactive', content: 'Made before the crash', tokenCount: 5, sourceEvent: `proactive:${id}` });
      expect(await scheduler.tick()).toMatchObject({ recovered: 1, sent: 0 });
      expect(target.delivered.map((d) => d.text)).toEqual(['Made before the crash']);
      expect(await outbox(h, conv.id)).toEqual(['delivered']);
      expect(h.fake.requests.filter((r) => JSON.stringify(r.body).includes('[proactive]'))).toHaveLength(0);
    });

    it('generates again what it had not stored yet', async () => {
      const { h, clock, target, scheduler, conv } = await liveInstance();
      await stoppedMidGeneration(h, conv.id, 'stopped', clock.now());
      expect(await scheduler.tick()).toMatchObject({ recovered: 0, sent: 1, delivered: 1 });
      expect(target.delivered).toHaveLength(1);
      expect(await outbox(h, conv.id)).toEqual(['abandoned', 'delivered']);
    });

    it("takes at once the lease of an instance that died before it began a generation, and sends one message", async () => {
      const { h, clock, target, scheduler, conv } = await liveInstance();
      await h.store.db.updateTable('conversations').set({ proactive_lease_until: clock.now() + 5 * MIN, proactive_lease_owner: 'stopped' }).where('id', '=', conv.id).execute();
      expect(await scheduler.tick()).toMatchObject({ sent: 1, delivered: 1 });
      expect(target.delivered).toHaveLength(1);
    });

    it('an instance whose lease was taken (judged dead) before it added its generation makes nothing', async () => {
      const { h, clock, conv } = await liveInstance();
      await h.store.db.updateTable('conversations').set({ proactive_lease_until: clock.now() + 5 * MIN, proactive_lease_owner: 'live' }).where('id', '=', conv.id).execute();
      expect(await h.store.proactive.addGeneration(conv.id, clock.now(), false, 'judged-dead', 5 * MIN)).toBe('lease-lost');
      expect(await outbox(h, conv.id)).toEqual([]);
    });

    it('leaves alone the generation of an instance still heard from', async () => {
      const { h, clock, target, scheduler, conv } = await liveInstance();
      await h.store.instances.register('busy', clock.now());
      await stoppedMidGeneration(h, conv.id, 'busy', clock.now());
      expect(await scheduler.tick()).toMatchObject({ recovered: 0, sent: 0, skipped: { 'claimed-elsewhere': 1 } });
      expect(target.delivered).toHaveLength(0);
      expect(await outbox(h, conv.id)).toEqual(['generating']);
    });

    it("finds a generation's message by its own key: a later generation's message is not sent again", async () => {
      const { h, clock, target, scheduler, conv } = await liveInstance();
      const before = clock.now();
      clock.advance(1000);
      expect(await scheduler.tick()).toMatchObject({ sent: 1, delivered: 1 });
      // An older generation its dead instance left, which stored nothing, surfaces after that one.
      await stoppedMidGeneration(h, conv.id, 'stopped', before);
      await h.store.db.updateTable('conversations').set({ proactive_lease_until: null, proactive_lease_owner: null }).where('id', '=', conv.id).execute();
      expect(await scheduler.tick()).toMatchObject({ recovered: 0, sent: 0 });
      expect(target.delivered).toHaveLength(1);
      expect(await outbox(h, conv.id)).toEqual(['delivered', 'abandoned']);
    });

    it('a generation whose message could not be written with its outcome (the database dropped) stores neither; the next tick makes it again, delivered and counted once', async () => {
      const { h, clock, target, scheduler, conv } = await liveInstance();
      await failCounting(h, true);
      await expect(scheduler.tick()).rejects.toThrow(/dropped/);
      await failCounting(h, false);
      expect(await outbox(h, conv.id)).toEqual(['generating']);
      // The message, its usage and its generation's outcome are one transaction: none of them landed.
      expect(await h.store.messages.newest(conv.id, { limit: 10, kinds: ['proactive'] })).toEqual([]);
      clock.advance(MIN);
      expect(await scheduler.tick()).toMatchObject({ sent: 1, delivered: 1 });
      clock.advance(MIN);
      expect(await scheduler.tick()).toMatchObject({ due: 0, sent: 0 });
      expect(target.delivered).toHaveLength(1);
      expect(await outbox(h, conv.id)).toEqual(['abandoned', 'delivered']);
      expect(await h.store.proactive.get(conv.id)).toMatchObject({ unanswered: 1, dayCount: 1 });
    });

    it('never takes its own generation for dead, though its own heartbeat lags behind', async () => {
      const { h, clock, target, scheduler, conv } = await liveInstance();
      let finish!: () => void;
      const held = new Promise<void>((r) => (finish = r));
      h.fake.respondWith(async ({ messages }) => (JSON.stringify(messages).includes('[proactive]') ? (await held, 'reach out') : 'ok'));
      const sending = scheduler.sendNow(conv.id);
      await expect.poll(() => outbox(h, conv.id)).toEqual(['generating']);
      await h.store.proactive.schedule(conv.id, null); // a tick in this process would not make it again (its ticks never overlap)
      clock.advance(30_000); // 'live' has not beaten for 30 s: a process this loaded is still running its turn
      expect(await scheduler.tick()).toMatchObject({ recovered: 0, sent: 0 });
      expect(await outbox(h, conv.id)).toEqual(['generating']);
      finish();
      expect(await sending).toMatchObject({ sent: true });
      expect(target.delivered.map((d) => d.text)).toEqual(['reach out']);
      expect(await outbox(h, conv.id)).toEqual(['delivered']);
    });

    it('an instance judged dead mid-generation leaves what it made to the instance that took over, which sends one message', async () => {
      const { h, target, scheduler, conv } = await liveInstance();
      let finish!: () => void;
      const held = new Promise<void>((r) => (finish = r));
      let proactiveCalls = 0;
      h.fake.respondWith(async ({ messages }) => {
        if (!JSON.stringify(messages).includes('[proactive]')) return 'ok';
        if (++proactiveCalls === 1) await held;
        return `reach out ${proactiveCalls}`;
      });
      const slowTarget = new RecordingTarget();
      const judgedDead = new ProactiveScheduler({ engine: h.engine, store: h.store, clock: h.clock, log: h.log, target: slowTarget }, { defaults, owner: 'judged-dead', leaseMs: 5 * MIN, deadAfterMs: 10_000 });
      const slow = judgedDead.sendNow(conv.id);
      await expect.poll(() => outbox(h, conv.id)).toEqual(['generating']);
      const tick = scheduler.tick(); // 'judged-dead' never heartbeat: its generation is abandoned and made again
      await expect.poll(() => outbox(h, conv.id)).toEqual(['abandoned', 'generating']);
      finish();
      expect(await slow).toMatchObject({ sent: false, reason: 'taken-over' }); // this instance sent nothing
      expect(await tick).toMatchObject({ sent: 1, delivered: 1 });
      expect(slowTarget.delivered).toHaveLength(0);
      expect(target.delivered.map((d) => d.text)).toEqual(['reach out 2']);
      expect(await outbox(h, conv.id)).toEqual(['abandoned', 'delivered']);
      // Nor did it store what it made: a message nobody delivers would still be in the conversation's history.
      expect((await h.store.messages.newest(conv.id, { limit: 10, kinds: ['proactive'] })).map((m) => m.content)).toEqual(['reach out 2']);
    });
  });

  it('sends what a dead process had claimed but not begun sending (it waited for room to send), once', async () => {
    // A process whose delivery waits in its outbound budget, and dies there: its first call never starts.
    const { h, target, scheduler, conv } = await dueAndBegunByCrashedProcess();
    await expect.poll(async () => (await h.store.proactive.outboxFor(conv.id))[0]?.state).toBe('claimed');

    await scheduler.tick(); // 'crashed' never heartbeats: dead
    expect(target.delivered.map((d) => d.kind)).toEqual(['proactive']);
    expect(await h.store.proactive.outboxFor(conv.id)).toMatchObject([{ state: 'delivered', attempts: 1 }]);
    expect(await h.store.messages.newest(conv.id, { limit: 10, kinds: ['proactive'] })).toHaveLength(1);
  });

  it('marks a delivery sending only as its first call starts, and sends nothing once another instance has taken it back', async () => {
    const { h, clock, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const states = async () => (await h.store.proactive.outboxFor(conv.id)).map((r) => r.state);
    let room!: () => void;
    const roomToSend = new Promise<void>((r) => (room = r));
    const calls: string[] = [];
    const slow = otherProcess(h, scheduler.owner, async (_c, _ch, m, o) => (await roomToSend, await o?.beforeFirstCall?.(), void calls.push(m.content)));
    const sending = slow.sendNow(conv.id);
    await expect.poll(states).toEqual(['claimed']);
    room();
    await sending;
    expect(await states()).toEqual(['delivered']);
    expect(calls).toHaveLength(1);

    // Judged dead while it waited for room: the survivor took the row back before the first call.
    let taken!: () => void;
    const takenBack = new Promise<void>((r) => (taken = r));
    const judgedDead = otherProcess(h, 'judged-dead', async (_c, _ch, m, o) => (await takenBack, await o?.beforeFirstCall?.(), void calls.push(m.content)));
    const late = judgedDead.sendNow(conv.id);
    await expect.poll(states).toEqual(['delivered', 'claimed']);
    await h.store.db.updateTable('proactive_outbox').set({ state: 'pending', owner: null }).where('state', '=', 'claimed').execute();
    taken();
    expect(await late).toMatchObject({ sent: true }); // stored, and left to the instance that took it back
    expect(calls).toHaveLength(1);
    expect(await states()).toEqual(['delivered', 'pending']);
  });

  it('never sends twice what a process that died was sending: uncertain on a platform, sent again (idempotently) to an API session', async () => {
    const { h, clock, target, scheduler } = await start();
    await say(h.engine, inbound({ text: 'hi' }));
    clock.advance(60 * MIN);
    expect((await scheduler.tick()).sent).toBe(1);
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const row = (await h.store.proactive.outboxFor(conv.id))[0]!;
    // The process sent it, then died before marking it delivered.
    await h.store.db.updateTable('proactive_outbox').set({ state: 'sending', owner: 'died-mid-send' }).where('id', '=', row.id).execute();
    clock.advance(MIN);
    await scheduler.tick();
    expect(target.delivered).toHaveLength(1);
    expect((await h.store.proactive.outboxFor(conv.id))[0]!.state).toBe('uncertain');

    const api = await h.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'admin', characterId: 'preset_aria' });
    const msg = await h.store.messages.append({ conversationId: api.id, role: 'assistant', kind: 'proactive', content: 'Thinking of you', tokenCount: 4 });
    const apiRow = await h.store.proactive.addOutbox(api.id, 'pending', clock.now(), false, msg.id);
    await h.store.db.updateTable('proactive_outbox').set({ state: 'sending', owner: 'died-mid-send' }).where('id', '=', apiRow).execute();
    await scheduler.tick();
    expect(target.delivered.map((d) => d.text)).toEqual([expect.any(String), 'Thinking of you']);
  });
});

/** Counting a proactive message as sent fails in the database itself, as a dropped connection would fail it (a trigger, on either store). */
async function failCounting(h: Harness, on: boolean): Promise<void> {
  const run = (q: string) => sql.raw(q).execute(h.store.db);
  if (h.store.dialect === 'postgres') {
    if (on) {
      await run(`CREATE OR REPLACE FUNCTION cbt_drop() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'connection dropped'; END $$ LANGUAGE plpgsql`);
      await run('CREATE TRIGGER cbt_drop BEFORE UPDATE OF proactive_last_at ON conversations FOR EACH ROW EXECUTE FUNCTION cbt_drop()');
    } else await run('DROP TRIGGER cbt_drop ON conversations');
  } else if (on) await run(`CREATE TRIGGER cbt_drop BEFORE UPDATE OF proactive_last_at ON conversations BEGIN SELECT RAISE(ABORT, 'connection dropped'); END`);
  else await run('DROP TRIGGER cbt_drop');
}
