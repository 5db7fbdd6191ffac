/**
 * A reply stream held back (`holdUntil`) keeps what the engine writes from the consumer until the
 * hold settles — however the consumer and the engine interleave — then hands over all of it, in order.
 */
import { describe, expect, it } from 'vitest';
import { ReplyStream } from '../../src/engine/reply-stream.js';

function held(): { stream: ReplyStream; release: () => void } {
  const stream = new ReplyStream();
  let release!: () => void;
  stream.holdUntil(new Promise<void>((r) => (release = r)));
  return { stream, release };
}

describe('a held reply stream', () => {
  it('gives a consumer that was already waiting nothing until released, then every event in order', async () => {
    const { stream, release } = held();
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of stream) got.push(e.type === 'delta' ? e.text : e.type);
    })();
    stream.push({ type: 'delta', text: 'one' });
    stream.push({ type: 'delta', text: 'two' });
    stream.end();
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([]);
    release();
    await reading;
    expect(got).toEqual(['one', 'two']);
  });

  it('ends an empty stream only once released, and lets go even when the hold fails', async () => {
    const stream = new ReplyStream();
    let fail!: (err: Error) => void;
    stream.holdUntil(new Promise<void>((_, reject) => (fail = reject)));
    stream.end();
    let ended = false;
    const reading = stream.collect().then((events) => {
      ended = true;
      return events;
    });
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    fail(new Error('Redis is unreachable'));
    expect(await reading).toEqual([]);
  });

  it('is not held once released: later events go straight through', async () => {
    const { stream, release } = held();
    release();
    await new Promise((r) => setImmediate(r));
    const it = stream[Symbol.asyncIterator]();
    const next = it.next();
    stream.push({ type: 'delta', text: 'now' });
    expect(await next).toEqual({ value: { type: 'delta', text: 'now' }, done: false });
  });

  it('drops what it still holds back when its message is handed to the recovery sweep, so only the sweep shows the reply', async () => {
    // Chaos seed 1302: the database dropped under a Slack turn after its reply was written to the
    // stream, held for the chat's line; once the place came, it and the sweep's answer both posted.
    const { stream, release } = held();
    const reading = stream.collect();
    stream.push({ type: 'start', conversationId: 'conv_1', characterId: 'aria', characterName: 'Aria' });
    stream.push({ type: 'delta', text: 'the whole reply' });
    stream.handOff();
    stream.push({ type: 'delta', text: 'written after the hand-off' });
    stream.end();
    release();
    expect(await reading).toEqual([]);
    await stream.delivered;
  });

  it('lets a reply its consumer already began go on when its message is handed to the sweep (the sweep finds it)', async () => {
    const stream = new ReplyStream();
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of stream) got.push(e.type === 'delta' ? e.text : e.type);
    })();
    stream.push({ type: 'delta', text: 'begun' });
    await new Promise((r) => setImmediate(r));
    stream.handOff();
    stream.push({ type: 'delta', text: 'and finished' });
    stream.end();
    await reading;
    expect(got).toEqual(['begun', 'and finished']);
  });
});

