/**
 * A database outage stops every instance's heartbeat row at once. The first instance to sweep after
 * it found the others' rows stale and answered again what they were still answering: an outage run
 * of `npm run chaos -- --cluster --outages 8` (seed 1218) showed Slack replies posted twice, 1 ms
 * apart, by two live instances. Instances sharing Redis also say there that they are alive, beside
 * the database, and an owner that does is not dead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { RedisPresence } from '../../src/coord/presence.js';
import { Liveness } from '../../src/services/liveness.js';
import { OUTAGE_WAIT_MS } from '../../src/store/pg-outage.js';
import type { ReplyEvent } from '../../src/core/types.js';
import { inbound, testLogger, type Harness } from '../helpers/harness.js';
import { hasRedis } from '../helpers/services.js';
import { redisHarnesses } from '../helpers/coordinations.js';

const DEAD_AFTER = 10_000;

describe.skipIf(!hasRedis())('an instance that says in Redis it is alive, while its database row went stale', () => {
  const worlds = redisHarnesses();
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await worlds.close();
  });

  async function world() {
    const clock = new ManualClock();
    const { h, redis, prefix } = await worlds.open(() => ({ clock }));
    const presence = new RedisPresence(redis, `${prefix}instances`);
    /** This instance (the harness engine's): it heartbeats, senses who else is alive, and sweeps. */
    const liveness = new Liveness(h.store, clock, testLogger(), { instanceId: h.engineConfig.instanceId, heartbeatMs: 60_000, presence, deadAfterMs: DEAD_AFTER, recover: async () => 0 });
    return { h, clock, presence, liveness };
  }

  /** A message instance `owner` claimed and is still answering (its reply not yet delivered). */
  async function claimedBy(h: Harness, owner: string) {
    const msg = inbound({ text: 'still with me?' });
    const { events } = h.store;
    const complete = events.complete.bind(events);
    events.complete = async () => {};
    await h.engine.handle(msg).collect();
    // Marking it done runs once its reply is delivered, beside the stream's end: wait for it, so
    // the real `complete` is not back in place before the engine calls it.
    await h.engine.drain(5000);
    events.complete = complete;
    await h.store.instances.register(owner, h.clock.now());
    await h.store.db.updateTable('processed_events').set({ owner }).where('state', '=', 'processing').execute();
    return msg;
  }

  const sweep = async (h: Harness) => {
    const delivered: ReplyEvent[][] = [];
    const n = await h.engine.recover(async (_m, replies) => void delivered.push(replies));
    return { n, delivered };
  };

  it('is not taken for dead by the sweep or by the message delivered again, until it stops saying so too', async () => {
    const { h, clock, presence, liveness } = await world();
    const msg = await claimedBy(h, 'instance-a');
    // The database was away for 15 s: no row was refreshed, but instance A went on saying it is alive in Redis.
    clock.advance(15_000);
    await presence.beat('instance-a', clock.now());
    await liveness.register(); // this instance's heartbeat once the database is back, and what it hears in Redis
    expect(await sweep(h)).toEqual({ n: 0, delivered: [] });
    expect((await h.engine.handle(msg).collect()).find((e) => e.type === 'done')).toBeUndefined(); // a duplicate while A answers it
    expect(await h.store.events.state(msg.platform, msg.eventId)).toBe('processing');

    // A died: neither its row nor Redis hears from it for longer than INSTANCE_DEAD_AFTER_MS.
    clock.advance(DEAD_AFTER + 1);
    await liveness.register();
    const { n, delivered } = await sweep(h);
    expect(n).toBe(1);
    expect(delivered[0]!.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: still with me?' } });
    expect(h.fake.requests.filter((q) => JSON.stringify(q.body).includes('still with me?'))).toHaveLength(1); // its stored reply, not a second model call
  });

  it('is not taken for dead after the database and Redis were both away, until it had its time to say it lives again', async () => {
    const { h, clock, presence } = await world();
    const msg = await claimedBy(h, 'instance-a');
    const liveness = new Liveness(h.store, clock, testLogger(), { instanceId: h.engineConfig.instanceId, heartbeatMs: 10, presence, deadAfterMs: DEAD_AFTER, recover: async () => 0 });
    await liveness.register();
    // Both away for 15 s, Redis restarted without its data: nobody's row or presence moved.
    const beat = h.store.instances.beat.bind(h.store.instances);
    h.store.instances.beat = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    };
    liveness.start();
    stops.push(() => liveness.stop());
    clock.advance(15_000);
    let landed = 0;
    let inFlight = 0;
    h.store.instances.beat = async (...args) => {
      inFlight++;
      try {
        await beat(...args);
        landed++;
      } finally {
        inFlight--;
      }
    };
    await expect.poll(() => landed).toBeGreaterThan(0); // this instance is back
    expect(await sweep(h)).toEqual({ n: 0, delivered: [] }); // A, alive, has not beaten yet
    expect((await h.engine.handle(msg).collect()).find((e) => e.type === 'done')).toBeUndefined();

    // No beat of this instance may straddle the jump below: one that did would have waited (for
    // all the process knows) through an outage, and rightly watch the others afresh from its end.
    h.store.instances.beat = async () => {};
    await expect.poll(() => inFlight).toBe(0);
    // A never says it lives again: once this instance has watched it stay silent for INSTANCE_DEAD_AFTER_MS, it is dead.
    clock.advance(DEAD_AFTER + 1);
    const { n } = await sweep(h);
    expect(n).toBe(1);
  });

  it('keeps a proactive delivery with its owner the same way', async () => {
    const { h, clock, presence, liveness } = await world();
    await h.engine.handle(inbound({ text: 'hi' })).collect();
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const row = await h.store.proactive.addOutbox(conv.id, 'pending', clock.now(), false);
    await h.store.instances.register('instance-a', clock.now());
    expect(await h.store.proactive.claimOutbox(row, 'instance-a', clock.now())).toBe(true);
    clock.advance(15_000);
    await presence.beat('instance-a', clock.now());
    await liveness.register();
    expect(await h.store.proactive.leftUnfinished(clock.now(), DEAD_AFTER, 10)).toEqual([]);
    clock.advance(DEAD_AFTER + 1);
    await liveness.register();
    expect(await h.store.proactive.leftUnfinished(clock.now(), DEAD_AFTER, 10)).toMatchObject([{ id: row, state: 'claimed' }]);
  });

  it('keeps its pending Idempotency-Key its own the same way', async () => {
    const { h, clock, presence, liveness } = await world();
    const runner = (instanceId: string) => ({ instanceId, deadAfterMs: DEAD_AFTER, turnId: `turn-${instanceId}` });
    await h.store.instances.register('instance-a', clock.now());
    expect(await h.store.idempotency.begin('key-1', 'retry-me', 'hash', clock.now(), runner('instance-a'))).toEqual({ state: 'new' });
    clock.advance(15_000);
    await presence.beat('instance-a', clock.now());
    await liveness.register();
    const mine = runner(h.engineConfig.instanceId);
    expect(await h.store.idempotency.begin('key-1', 'retry-me', 'hash', clock.now(), mine)).toEqual({ state: 'pending' });
    clock.advance(DEAD_AFTER + 1);
    await liveness.register();
    expect(await h.store.idempotency.begin('key-1', 'retry-me', 'hash', clock.now(), mine)).toMatchObject({ state: 'orphaned', owner: 'instance-a' });
  });

  it('goes on saying so while its database heartbeat waits for the database, as long as a statement waits for it', async () => {
    const { h, clock, presence } = await world();
    const id = 'instance-waiting';
    let heard = 0; // what it heard in Redis, once per heartbeat
    const counted = { beat: presence.beat.bind(presence), leave: presence.leave.bind(presence), seenSince: (since: number) => (heard++, presence.seenSince(since)) };
    const liveness = new Liveness(h.store, clock, testLogger(), { instanceId: id, heartbeatMs: 10, presence: counted, deadAfterMs: DEAD_AFTER, recover: async () => 0 });
    await liveness.register();
    // Every heartbeat row waits from now on, as for a database that does not answer.
    h.store.instances.beat = () => new Promise(() => {});
    liveness.start();
    stops.push(() => liveness.stop());
    clock.advance(OUTAGE_WAIT_MS);
    await expect.poll(async () => (await presence.seenSince(0)).get(id)).toBe(clock.now());
    // Past that its turns have handed their claims back: cut off from the database, it no longer keeps them from the others.
    const last = clock.now();
    clock.advance(1);
    const after = heard;
    await expect.poll(() => heard).toBeGreaterThan(after + 1); // a whole heartbeat since the clock moved
    expect((await presence.seenSince(0)).get(id)).toBe(last);
  });
});
