/**
 * A reply sent while PostgreSQL is down (a restart, a failover) is marked answered only once the
 * database is back; a process that dies meanwhile left a claim its takeover would answer again,
 * and Telegram's Bot API can neither take a send back nor say what it shows. Instances sharing
 * Redis also record there, in a millisecond, that the message was answered, and a takeover that
 * finds the record marks the message answered instead of sending its reply twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedisAnsweredNotes } from '../../src/coord/redis.js';
import type { ReplyEvent } from '../../src/core/types.js';
import { inbound } from '../helpers/harness.js';
import { hasRedis } from '../helpers/services.js';
import { redisHarnesses } from '../helpers/coordinations.js';

describe.skipIf(!hasRedis())('a message answered while the database could not record it', () => {
  const worlds = redisHarnesses();
  afterEach(() => worlds.close());

  /** An engine whose "answered" marks never reach the database, as if it were down until the process died. */
  async function world() {
    let notes!: RedisAnsweredNotes;
    const { h, redis, prefix } = await worlds.open((c) => ({ answered: (notes = new RedisAnsweredNotes(c.redis, c.prefix)) }));
    const { events } = h.store;
    const complete = events.complete.bind(events);
    events.complete = async () => {};
    /** The process died; another takes over its claims (the database is back). */
    const takeOver = async () => {
      events.complete = complete;
      await h.store.db.updateTable('processed_events').set({ owner: 'a-process-that-died' }).where('state', '=', 'processing').execute();
      const delivered: ReplyEvent[][] = [];
      const n = await h.engine.recover(async (_m, replies) => void delivered.push(replies));
      return { n, delivered };
    };
    return { h, prefix, redis, notes, takeOver };
  }

  it('is marked answered by the instance that takes it over, not answered twice', async () => {
    const { h, notes, takeOver } = await world();
    const msg = inbound({ text: 'are you there?' });
    const first = await h.engine.handle(msg).collect();
    expect(first.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: are you there?' } });
    // Recorded once delivered, in the background.
    await expect.poll(() => notes.noted(`${msg.platform}:${msg.eventId}`)).toBe(true);
    expect(await h.store.events.state(msg.platform, msg.eventId)).toBe('processing');

    const { n, delivered } = await takeOver();
    expect(n).toBe(0);
    expect(delivered).toEqual([]);
    expect(await h.store.events.state(msg.platform, msg.eventId)).toBe('done');
    // Delivered again by the platform: still a duplicate.
    expect((await h.engine.handle(msg).collect()).find((e) => e.type === 'done')).toBeUndefined();
    expect(h.fake.requests.filter((q) => JSON.stringify(q.body).includes('are you there?'))).toHaveLength(1);
  });

  it('is answered again when the record is gone too (Redis lost its data): late, never lost', async () => {
    const { h, prefix, redis, notes, takeOver } = await world();
    const msg = inbound({ text: 'still there?' });
    await h.engine.handle(msg).collect();
    const key = `${msg.platform}:${msg.eventId}`;
    await expect.poll(() => notes.noted(key)).toBe(true);
    await redis.del(`${prefix}answered:${key}`);

    const { n, delivered } = await takeOver();
    expect(n).toBe(1);
    expect(delivered[0]!.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: still there?' } });
    // Marked answered once delivered, in the background.
    await expect.poll(() => h.store.events.state(msg.platform, msg.eventId)).toBe('done');
  });
});
