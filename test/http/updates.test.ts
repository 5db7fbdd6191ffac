import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { echoResponder } from '../fakes/openai.js';
import { errorOf, startApi, type ApiHarness } from './helpers.js';

const clock = new ManualClock();
let h: ApiHarness;

beforeAll(async () => {
  h = await startApi({ clock });
});
afterAll(() => h.close());

type Feed = { updates: Array<{ id: string; sessionId: string; kind: string; message?: { content: string }; error?: { code: string } }>; cursor: string };

async function asyncChat(key: string, message: string, sessionId?: string): Promise<string> {
  const res = await h.call('POST', '/api/v1/chat', { key, body: { characterId: 'aria', message, mode: 'async', ...(sessionId ? { sessionId } : {}) } });
  expect(res.statusCode).toBe(202);
  return res.json().sessionId as string;
}

const feed = async (key: string, qs = ''): Promise<Feed> => (await h.call('GET', `/api/v1/updates${qs}`, { key })).json();

describe('GET /api/v1/updates', () => {
  it('async mode answers 202 with a pollUrl; the reply then appears in the feed', async () => {
    const k = await h.newKey({ credits: 10 });
    const res = await h.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'Tell me a story', mode: 'async' } });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toEqual({ status: 'processing', sessionId: body.sessionId, pollUrl: `/api/v1/updates?sessionId=${body.sessionId}`, credits: { used: 1 } });
    await h.chat.drain();
    const polled = await feed(k.key, body.pollUrl.replace('/api/v1/updates', ''));
    expect(polled.updates).toEqual([
      {
        id: expect.any(String),
        sessionId: body.sessionId,
        characterId: 'preset_aria',
        kind: 'reply',
        message: { id: expect.stringMatching(/^msg_/), content: 'Echo: Tell me a story', sentAt: expect.any(String) },
      },
    ]);
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
  });

  it('a cursor continues without gaps or repeats; sessionId and since filter', async () => {
    const k = await h.newKey();
    const s1 = await asyncChat(k.key, 'a1');
    await h.chat.drain();
    const first = await feed(k.key);
    expect(first.updates.map((u) => u.message?.content)).toEqual(['Echo: a1']);
    const mark = new Date(clock.now()).toISOString();
    clock.advance(60_000);
    const s2 = await asyncChat(k.key, 'b1');
    await asyncChat(k.key, 'a2', s1);
    await h.chat.drain();
    const next = await feed(k.key, `?cursor=${first.cursor}`);
    expect(next.updates.map((u) => u.message?.content).sort()).toEqual(['Echo: a2', 'Echo: b1']);
    expect((await feed(k.key, `?cursor=${next.cursor}`)).updates).toEqual([]);
    expect((await feed(k.key, `?cursor=${next.cursor}`)).cursor).toBe(next.cursor);
    expect((await feed(k.key, `?sessionId=${s2}`)).updates.map((u) => u.message?.content)).toEqual(['Echo: b1']);
    expect((await feed(k.key, `?since=${encodeURIComponent(mark)}`)).updates).toHaveLength(2);
    expect((await feed(k.key, `?since=${encodeURIComponent(mark)}&cursor=${first.cursor}&limit=1`)).updates).toHaveLength(1);
    // Nothing newer: nothing read, and the cursor is where a plain read would leave it.
    const later = await feed(k.key, `?since=${encodeURIComponent(new Date(clock.now() + 1000).toISOString())}`);
    expect(later).toEqual({ ...later, updates: [], cursor: next.cursor });
    // limit pages through the feed with the same cursor rule.
    const one = await feed(k.key, '?limit=1');
    const two = await feed(k.key, `?limit=1&cursor=${one.cursor}`);
    expect(Number(two.updates[0]?.id)).toBeGreaterThan(Number(one.updates[0]?.id));
  });

  it('a failed async turn appears as kind error and costs nothing', async () => {
    const k = await h.newKey({ credits: 3 });
    h.fake.failNext(1, { status: 500 });
    const id = await asyncChat(k.key, 'doomed');
    await h.chat.drain();
    const got = await feed(k.key, `?sessionId=${id}`);
    expect(got.updates).toEqual([
      { id: expect.any(String), sessionId: id, characterId: 'preset_aria', kind: 'error', error: { code: 'MODEL_ERROR', message: expect.any(String) } },
    ]);
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(0);
  });

  it("one key never sees another key's updates", async () => {
    const x = await h.newKey();
    const y = await h.newKey();
    await asyncChat(x.key, 'for x only');
    await h.chat.drain();
    expect((await feed(y.key)).updates).toEqual([]);
    expect((await feed(x.key)).updates).toHaveLength(1);
  });

  it('wait holds the request until an update arrives (long-poll), or answers empty when it ends', async () => {
    const k = await h.newKey();
    const start = await feed(k.key);
    // The model answers only when the test says so, so the poll has nothing to return until then.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.fake.respondWith(async (req) => {
      await gate;
      return echoResponder(req);
    });
    try {
      let settled = false;
      const poll = h.call('GET', `/api/v1/updates?cursor=${start.cursor}&wait=10`, { key: k.key }).finally(() => (settled = true));
      const calls = h.fake.requests.length;
      await asyncChat(k.key, 'wake me');
      while (h.fake.requests.length === calls) await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      release();
      const woke: Feed = (await poll).json();
      expect(woke.updates.map((u) => u.message?.content)).toEqual(['Echo: wake me']);
    } finally {
      h.fake.respondWith(echoResponder);
    }
    const empty = await feed(k.key, '?wait=0.05&cursor=999999');
    expect(empty).toEqual({ updates: [], cursor: '999999' });
  });

  it('shutdown releases waiting long-polls at once', async () => {
    const other = await startApi();
    const k = await other.newKey();
    const poll = other.call('GET', '/api/v1/updates?wait=30', { key: k.key });
    while (other.store.updates.waiting === 0) await new Promise((r) => setImmediate(r));
    // Closing the app releases it (a real server would also wait for it before the store closes;
    // an injected request is not the server's to wait for, so the test waits before closing the store).
    const closing = other.app.close();
    expect((await poll).json()).toEqual({ updates: [], cursor: '0' });
    await closing;
    await other.close();
  });

  it('holds at most MAX_LONG_POLLS_PER_KEY long-polls of one key at once: one more is a 429 with Retry-After', async () => {
    const q = await startApi({ env: { MAX_LONG_POLLS_PER_KEY: '2' } });
    try {
      const k = await q.newKey();
      const other = await q.newKey();
      const poll = (key?: string) => q.call('GET', '/api/v1/updates?wait=30', key === undefined ? {} : { key });
      const held = [poll(k.key), poll(k.key)];
      while (q.store.updates.waiting < 2) await new Promise((r) => setImmediate(r));
      const third = await poll(k.key);
      expect(third.statusCode).toBe(429);
      expect(errorOf(third).code).toBe('RATE_LIMITED');
      expect(third.headers['retry-after']).toBe('1');
      expect((await q.call('GET', '/api/v1/updates', { key: k.key })).statusCode).toBe(200); // a plain read is not a long-poll
      held.push(poll(other.key), poll(), poll()); // another key's, and the admin's
      while (q.store.updates.waiting < 5) await new Promise((r) => setImmediate(r));
      q.store.updates.wakeAll();
      for (const r of await Promise.all(held)) expect(r.statusCode).toBe(200);
      // The finished ones gave their places back (the feed is stopped now, so these answer at once).
      for (const r of await Promise.all([poll(k.key), poll(k.key)])) expect(r.statusCode).toBe(200);
    } finally {
      await q.close();
    }
  });

  it('validates since, cursor, wait and limit', async () => {
    const k = await h.newKey();
    for (const [qs, field] of [
      ['since=yesterday', 'since'],
      ['cursor=abc', 'cursor'],
      ['wait=31', 'wait'],
      ['wait=-1', 'wait'],
      ['limit=0', 'limit'],
    ]) {
      const res = await h.call('GET', `/api/v1/updates?${qs}`, { key: k.key });
      expect(res.statusCode, qs).toBe(400);
      expect(errorOf(res).details?.field).toBe(field);
    }
  });
});
