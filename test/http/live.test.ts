/**
 * The HTTP API over real HTTP: app.listen on a loopback port, fetch as the client, a real SSE
 * parser (eventsource-parser), and the real openai SDK against the fake OpenAI server.
 */
import type { AddressInfo } from 'node:net';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoResponder } from '../fakes/openai.js';
import { imageServer, pinnedResolver, type TestServer } from '../helpers/net.js';
import { startApi, validCharacter, type ApiHarness } from './helpers.js';

const RATE_LIMIT = 12;
let h: ApiHarness;
let base: string;
let images: TestServer;

beforeAll(async () => {
  images = await imageServer();
  const resolve = pinnedResolver({ 'images.example.test': ['127.0.0.1'] });
  h = await startApi({ env: { RATE_LIMIT_API_KEY_PER_MIN: String(RATE_LIMIT), SSRF_ALLOW_HOSTS: 'images.example.test' }, resolve });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h.close();
  await images.close();
});

type Json = Record<string, any>;

async function api(method: string, path: string, o: { key?: string | null; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  const headers: Record<string, string> = { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers };
  if (o.key) headers['x-api-key'] = o.key;
  return fetch(`${base}${path}`, { method, headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}), ...(o.signal ? { signal: o.signal } : {}) });
}

/** Read an SSE response with eventsource-parser; `stopAfter` returning true stops reading (and the caller may abort). */
async function readSse(res: Response, stopAfter?: (events: Json[]) => boolean): Promise<Json[]> {
  const events: Json[] = [];
  const parser = createParser({ onEvent: (e) => events.push(JSON.parse(e.data) as Json) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
    if (stopAfter?.(events)) break;
  }
  return events;
}

const chat = (key: string, body: Json, headers?: Record<string, string>) => api('POST', '/api/v1/chat', { key, body, ...(headers ? { headers } : {}) });

describe('chat over real HTTP', () => {
  it('sync: JSON reply with session, message and credits', async () => {
    const k = await h.newKey({ credits: 5 });
    const res = await chat(k.key, { characterId: 'aria', message: 'What do you think about space exploration?', mode: 'sync' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ message: { content: 'Echo: What do you think about space exploration?' }, credits: { used: 1, remaining: 4 } });
    const history = (await (await api('GET', `/api/v1/conversations/${body.sessionId}`, { key: k.key })).json()) as Json;
    expect(history.messages.map((m: Json) => m.role)).toEqual(['user', 'assistant']);
  });

  it('stream: start, one content event per model delta, end with message and credits', async () => {
    const k = await h.newKey({ credits: 5 });
    h.fake.respondWith('Space is vast and full of wonder');
    try {
      const res = await chat(k.key, { characterId: 'aria', message: 'space?' }, { accept: 'text/event-stream' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = await readSse(res);
      expect(events[0]).toEqual({ type: 'start', sessionId: expect.stringMatching(/^conv_/) });
      const content = events.filter((e) => e.type === 'content');
      expect(content.map((e) => e.text)).toEqual(['Space ', 'is ', 'vast ', 'and ', 'full ', 'of ', 'wonder']);
      expect(events.at(-1)).toEqual({
        type: 'end',
        message: { id: expect.stringMatching(/^msg_/), content: 'Space is vast and full of wonder', sentAt: expect.any(String) },
        credits: { used: 1, remaining: 4 },
      });
    } finally {
      h.fake.respondWith(echoResponder);
    }
  });

  it('stream: a model failure is an error event, and nothing is charged', async () => {
    const k = await h.newKey({ credits: 5 });
    h.fake.failNext(1, { status: 500 });
    const events = await readSse(await chat(k.key, { characterId: 'aria', message: 'fail', mode: 'stream' }));
    expect(events.map((e) => e.type)).toEqual(['start', 'error']);
    expect(events[1]?.error).toMatchObject({ code: 'MODEL_ERROR', message: expect.any(String) });
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(0);
  });

  it('a client that disconnects mid-stream does not lose the reply: history and the feed have it', async () => {
    const k = await h.newKey({ credits: 5 });
    const long = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    h.fake.respondWith(long);
    h.fake.setChunkDelay(5);
    try {
      const abort = new AbortController();
      const res = await api('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'tell me everything', mode: 'stream' }, signal: abort.signal });
      const seen = await readSse(res, (events) => events.some((e) => e.type === 'content'));
      abort.abort(); // drops the connection mid-stream
      const sessionId = seen[0]?.sessionId as string;
      expect(seen.some((e) => e.type === 'end')).toBe(false); // we really left before the end
      await h.chat.drain();
      const history = (await (await api('GET', `/api/v1/conversations/${sessionId}`, { key: k.key })).json()) as Json;
      expect(history.messages.at(-1)).toMatchObject({ role: 'assistant', content: long });
      const feed = (await (await api('GET', `/api/v1/updates?sessionId=${sessionId}`, { key: k.key })).json()) as Json;
      expect(feed.updates).toEqual([expect.objectContaining({ kind: 'reply', message: expect.objectContaining({ content: long }) })]);
      expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
    } finally {
      h.fake.respondWith(echoResponder);
      h.fake.setChunkDelay(0);
    }
  });

  it('async + poll: 202 at once, the reply arrives through a long-poll on pollUrl', async () => {
    const k = await h.newKey({ credits: 5 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.fake.respondWith(async (req) => {
      await gate;
      return echoResponder(req);
    });
    try {
      const res = await chat(k.key, { characterId: 'aria', message: 'Tell me a story', mode: 'async' });
      expect(res.status).toBe(202);
      const accepted = (await res.json()) as Json;
      expect(accepted).toMatchObject({ status: 'processing', credits: { used: 1 } });
      const empty = (await (await api('GET', accepted.pollUrl, { key: k.key })).json()) as Json;
      expect(empty.updates).toEqual([]); // the model has not answered yet
      const poll = api('GET', `${accepted.pollUrl}&wait=10&cursor=${empty.cursor}`, { key: k.key });
      release();
      const got = (await (await poll).json()) as Json;
      expect(got.updates).toEqual([expect.objectContaining({ sessionId: accepted.sessionId, kind: 'reply', message: expect.objectContaining({ content: 'Echo: Tell me a story' }) })]);
      const after = (await (await api('GET', `${accepted.pollUrl}&cursor=${got.cursor}`, { key: k.key })).json()) as Json;
      expect(after.updates).toEqual([]); // no repeats
    } finally {
      h.fake.respondWith(echoResponder);
    }
  });

  it('Idempotency-Key: same body → one model call and one charge; other body → 409', async () => {
    const k = await h.newKey({ credits: 5 });
    const calls = h.fake.requests.length;
    const body = { characterId: 'aria', message: 'once only' };
    const a = (await (await chat(k.key, body, { 'idempotency-key': 'k1' })).json()) as Json;
    const again = await chat(k.key, body, { 'idempotency-key': 'k1' });
    expect((await again.json()) as Json).toEqual(a);
    expect(h.fake.requests.length).toBe(calls + 1);
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
    const replayStream = await readSse(await chat(k.key, { ...body, mode: undefined }, { 'idempotency-key': 'k1', accept: 'text/event-stream' }));
    expect(replayStream.at(-1)).toMatchObject({ type: 'end', message: a.message });
    const other = await chat(k.key, { ...body, message: 'twice?' }, { 'idempotency-key': 'k1' });
    expect(other.status).toBe(409);
    expect(((await other.json()) as Json).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('credits: 1 for text, 2 with an image, 402 when exhausted, nothing on model failure', async () => {
    const k = await h.newKey({ credits: 4 });
    const text = (await (await chat(k.key, { characterId: 'aria', message: 'hi' })).json()) as Json;
    expect(text.credits).toEqual({ used: 1, remaining: 3 });
    const image = (await (await chat(k.key, { characterId: 'aria', message: 'see', imageUrl: images.url('/cat.png', 'images.example.test') })).json()) as Json;
    expect(image.credits).toEqual({ used: 2, remaining: 1 });
    h.fake.failNext(1, { status: 503 });
    expect((await chat(k.key, { characterId: 'aria', message: 'fail' })).status).toBe(502);
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(3);
    expect((await chat(k.key, { characterId: 'aria', message: 'pic', imageUrl: images.url('/b.png', 'images.example.test') })).status).toBe(402);
    expect(((await (await chat(k.key, { characterId: 'aria', message: 'last' })).json()) as Json).credits).toEqual({ used: 1, remaining: 0 });
    const broke = await chat(k.key, { characterId: 'aria', message: 'more' });
    expect(broke.status).toBe(402);
    expect(((await broke.json()) as Json).error.code).toBe('INSUFFICIENT_CREDITS');
  });

  it("tenant isolation: another key's private character and conversation are 404", async () => {
    const a = await h.newKey();
    const b = await h.newKey();
    const secret = (await (await api('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ name: 'Secret' }) })).json()) as Json;
    const session = ((await (await chat(a.key, { characterId: secret.id, message: 'hi' })).json()) as Json).sessionId as string;
    const probes: Array<[string, string, unknown?]> = [
      ['GET', `/api/v1/characters/${secret.id}`],
      ['GET', `/api/v1/conversations/${session}`],
      ['DELETE', `/api/v1/conversations/${session}`],
      ['POST', '/api/v1/chat', { characterId: secret.id, message: 'hi' }],
      ['POST', '/api/v1/chat', { characterId: 'aria', message: 'hi', sessionId: session }],
    ];
    for (const [method, path, body] of probes) {
      const res = await api(method, path, { key: b.key, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const list = (await (await api('GET', '/api/v1/characters?limit=100', { key: b.key })).json()) as Json;
    expect(list.characters.some((c: Json) => c.id === secret.id)).toBe(false);
    expect((await api('GET', `/api/v1/conversations/${session}`, { key: a.key })).status).toBe(200);
  });
});

describe('errors over real HTTP', () => {
  it('every validation bound of the characters API and the list parameters', async () => {
    // Every request counts against a key's per-minute limit: a fresh key per request keeps this test about the bounds.
    const fresh = async () => (await h.newKey()).key;
    const create = async (over: Json) => (await api('POST', '/api/v1/characters', { key: await fresh(), body: validCharacter(over) })).status;
    const bounds: Array<[Json, number]> = [
      [{ name: '' }, 400],
      [{ name: 'N' }, 201],
      [{ name: 'n'.repeat(100) }, 201],
      [{ name: 'n'.repeat(101) }, 400],
      [{ personality: 'p'.repeat(9) }, 400],
      [{ personality: 'p'.repeat(10) }, 201],
      [{ personality: 'p'.repeat(2000) }, 201],
      [{ personality: 'p'.repeat(2001) }, 400],
      [{ speakingStyle: 's'.repeat(9) }, 400],
      [{ speakingStyle: 's'.repeat(10) }, 201],
      [{ speakingStyle: 's'.repeat(1000) }, 201],
      [{ speakingStyle: 's'.repeat(1001) }, 400],
      [{ description: 'd'.repeat(500) }, 201],
      [{ description: 'd'.repeat(501) }, 400],
      [{ gender: 'non-binary' }, 201],
      [{ gender: 'robot' }, 400],
    ];
    for (const [over, status] of bounds) expect(await create(over), JSON.stringify(over).slice(0, 60)).toBe(status);
    const bad = await api('POST', '/api/v1/characters', { key: await fresh(), body: validCharacter({ personality: 'too short' }) });
    expect((await bad.json()) as Json).toEqual({
      error: { code: 'VALIDATION_ERROR', message: 'personality must be 10-2000 characters', details: expect.objectContaining({ field: 'personality' }) },
    });
    const list = async (qs: string) => (await api('GET', `/api/v1/characters?${qs}`, { key: await fresh() })).status;
    for (const [qs, status] of [
      ['ageMin=17', 400],
      ['ageMin=18', 200],
      ['limit=0', 400],
      ['limit=1', 200],
      ['limit=100', 200],
      ['limit=101', 400],
      ['page=0', 400],
      ['page=1', 200],
    ] as const) {
      expect(await list(qs), qs).toBe(status);
    }
    for (const imageUrl of ['http://127.0.0.1/x.png', 'http://localhost/x.png', 'http://[::1]/x.png', 'http://192.168.0.10/x.png', 'javascript:alert(1)']) {
      const res = await chat(await fresh(), { characterId: 'aria', message: 'x', imageUrl });
      expect(res.status, imageUrl).toBe(400);
    }
  });

  it('401 without or with a bad key, 413 for a large body, 429 with Retry-After', async () => {
    expect((await api('GET', '/api/v1/characters')).status).toBe(401);
    const bad = await api('GET', '/api/v1/characters', { key: 'cb_not_a_key' });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as Json).error.code).toBe('UNAUTHORIZED');
    const k = await h.newKey();
    const big = await chat(k.key, { characterId: 'aria', message: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as Json).error.code).toBe('PAYLOAD_TOO_LARGE');
    let limited: Response | undefined;
    for (let i = 0; i <= RATE_LIMIT && !limited; i++) {
      const res = await chat(k.key, { characterId: 'aria', message: `n${i}` });
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited!.json()) as Json).error.code).toBe('RATE_LIMITED');
  });
});
