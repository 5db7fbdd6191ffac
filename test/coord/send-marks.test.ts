/**
 * An adapter's send notes, written to the database and copied to Redis: the newer of the two is
 * the note, so a copy that outlived a database write held up by an outage is found, and a Redis
 * that lost its data or missed a later write leaves the database's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MirroredSendMarks } from '../../src/coord/send-marks.js';
import type { DatedSendMarks } from '../../src/coord/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { hasRedis } from '../helpers/services.js';
import { redisHarnesses } from '../helpers/coordinations.js';

describe.skipIf(!hasRedis())('send notes copied to Redis', () => {
  const worlds = redisHarnesses();
  afterEach(() => worlds.close());

  async function world() {
    const clock = new ManualClock();
    const { h, redis, prefix } = await worlds.open(() => ({ clock }));
    const marks = (durable: DatedSendMarks = h.store.sendMarks) => new MirroredSendMarks(redis, prefix, durable, () => clock.now());
    return { h, clock, redis, prefix, marks };
  }

  it('finds a note whose database write a dying process never saw land', async () => {
    const { h, clock, marks } = await world();
    await marks().put('slack:reply:e1', '{}');
    clock.advance(5);
    // The database is restarting: the write waits, and the process dies meanwhile.
    void marks({ put: () => new Promise(() => {}), noted: (k) => h.store.sendMarks.noted(k), list: (p) => h.store.sendMarks.list(p), forget: (k) => h.store.sendMarks.forget(k) }).put('slack:reply:e1', '{"stream":{"ts":"1.2","start":0}}');
    await expect.poll(() => marks().get('slack:reply:e1')).toBe('{"stream":{"ts":"1.2","start":0}}');
    expect(await h.store.sendMarks.get('slack:reply:e1')).toBe('{}');
  });

  it('keeps the database note when Redis lost its copy, or missed a later write', async () => {
    const { h, clock, redis, prefix, marks } = await world();
    await marks().put('slack:reply:e2', 'first');
    await redis.del(`${prefix}mark:slack:reply:e2`);
    expect(await marks().get('slack:reply:e2')).toBe('first');
    await marks().put('slack:reply:e2', 'second');
    clock.advance(5);
    // Redis did not answer this write; the database took it.
    await h.store.sendMarks.put('slack:reply:e2', 'third', clock.now());
    expect(await marks().get('slack:reply:e2')).toBe('third');
    expect(await marks().get('slack:reply:none')).toBeUndefined();
  });

  it('lists the database notes under a prefix, and forgets a note in both places', async () => {
    const { h, marks } = await world();
    await marks().put('discord:gateway:b:0:p:one', '1');
    await marks().put('discord:gateway:b:0:p:two', '2');
    await marks().put('discord:gateway:b:1:p:one', 'other shard');
    expect(await marks().list('discord:gateway:b:0:p:')).toEqual([{ key: 'discord:gateway:b:0:p:one', value: '1' }, { key: 'discord:gateway:b:0:p:two', value: '2' }]);
    await marks().forget('discord:gateway:b:0:p:one');
    // Gone from Redis too: a copy left there would still answer `get`.
    expect(await marks().get('discord:gateway:b:0:p:one')).toBeUndefined();
    expect(await h.store.sendMarks.get('discord:gateway:b:0:p:one')).toBeUndefined();
    expect((await marks().list('discord:gateway:b:0:p:')).map((n) => n.key)).toEqual(['discord:gateway:b:0:p:two']);
  });
});
