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
});
