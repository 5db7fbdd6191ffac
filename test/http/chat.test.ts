import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { imageServer, pinnedResolver, TINY_PNG, type TestServer } from '../helpers/net.js';
import { echoResponder } from '../fakes/openai.js';
import { ADMIN_KEY, errorOf, startApi, validCharacter, type ApiHarness } from './helpers.js';

const clock = new ManualClock();
let h: ApiHarness;
let images: TestServer;
/** An allow-listed image host served on loopback. */
let imageUrl: (path: string) => string;

beforeAll(async () => {
  images = await imageServer();
  imageUrl = (path) => images.url(path, 'images.local.test');
  const resolve = pinnedResolver({ 'images.local.test': ['127.0.0.1'], 'images.example.com': ['127.0.0.1'], 'ip6-localhost': ['::1'], 'cdn.example.com': ['93.184.216.34', '10.0.0.8'] });
  h = await startApi({ clock, env: { SSRF_ALLOW_HOSTS: 'images.local.test' }, resolve });
});
afterAll(async () => {
  await h.close();
  await images.close();
});

const chat = (key: string, body: Record<string, unknown>, headers?: Record<string, string>) =>
  h.call('POST', '/api/v1/chat', { key, body, ...(headers ? { headers } : {}) });

describe('a session with pictures, read back', () => {
  it("counts each message's images and sends none of them: every history API leaves the stored pictures unread", async () => {
    const k = await h.newKey();
    const first = (await chat(k.key, { characterId: 'aria', message: 'Look', imageUrl: imageUrl('/cat.png') })).json<{ sessionId: string }>();
    await chat(k.key, { characterId: 'aria', message: 'and this', imageUrl: imageUrl('/dog.png'), sessionId: first.sessionId });
    await chat(k.key, { characterId: 'aria', message: 'words only', sessionId: first.sessionId });
    const v1 = await h.call('GET', `/api/v1/conversations/${first.sessionId}`, { key: k.key });
    expect(v1.body).not.toContain('data:image');
    expect(v1.json().messages.map((m: { content: string; imageCount?: number }) => [m.content, m.imageCount ?? 0])).toEqual([
      ['Look', 1], ['Echo: Look [images: 1]', 0], ['and this', 1], ['Echo: and this [images: 1]', 0], ['words only', 0], ['Echo: words only', 0],
    ]);
    // The model still gets the picture of the message it answers, and a note of older ones.
    const seen = JSON.stringify(h.fake.requests.at(-2)?.body.messages);
    expect(seen).toContain('data:image/png;base64');
    expect(seen).toContain('Look [sent 1 image(s)]');
    // What is stored of a picture is a note of it, for turns that answered and one that failed.
    h.fake.failNext(1, { status: 500 });
    expect((await chat(k.key, { characterId: 'aria', message: 'fails', imageUrl: imageUrl('/cat.png'), sessionId: first.sessionId })).statusCode).toBeGreaterThanOrEqual(500);
    const stored = await h.store.messages.newest(first.sessionId, { limit: 20 });
    const pictured = stored.filter((m) => m.imageUrls.length);
    expect(pictured.map((m) => m.content).sort()).toEqual(['Look', 'and this', 'fails']);
    for (const m of pictured) expect(m.imageUrls).toEqual([`picture:image/png:${TINY_PNG.length}`]);
  });
});

describe('POST /api/v1/chat, sync', () => {
  it('answers with sessionId, message and credits, and continues the session', async () => {
    const k = await h.newKey({ credits: 10 });
    const first = await chat(k.key, { characterId: 'preset_aria', message: 'What do you think about space exploration?', mode: 'sync' });
    expect(first.statusCode).toBe(200);
    const body = first.json();
    expect(body).toEqual({
      sessionId: expect.stringMatching(/^conv_/),
      message: { id: expect.stringMatching(/^msg_/), content: 'Echo: What do you think about space exploration?', sentAt: new Date(clock.now()).toISOString() },
      credits: { used: 1, remaining: 9 },
    });
    const second = await chat(k.key, { characterId: 'aria', message: 'And the moon?', sessionId: body.sessionId });
    expect(second.json()).toMatchObject({ sessionId: body.sessionId, credits: { used: 1, remaining: 8 } });
    // The model saw the earlier turn: the session really continued.
    const seen = JSON.stringify(h.fake.requests.at(-1)?.body.messages);
    expect(seen).toContain('space exploration');
  });

  it('charges 2 for an image, fetches it itself and sends the model its bytes, and refuses SSRF targets', async () => {
    const k = await h.newKey({ credits: 10 });
    const res = await chat(k.key, { characterId: 'aria', message: 'Look', imageUrl: imageUrl('/cat.png') });
    expect(res.json().credits).toEqual({ used: 2, remaining: 8 });
    const parts = h.fake.requests.at(-1)?.body.messages.filter((m: { role: string }) => m.role === 'user').at(-1).content;
    expect(parts).toContainEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${TINY_PNG.toString('base64')}` } });
    expect(images.received.at(-1)?.path).toBe('/cat.png');
    const imageOnly = await chat(k.key, { characterId: 'aria', imageUrl: imageUrl('/ok.png') });
    expect(imageOnly.statusCode).toBe(200);
    const port = images.port;
    for (const url of [
      'http://127.0.0.1/a.png',
      'http://localhost/a.png',
      'http://[::ffff:10.0.0.1]/a.png',
      'http://[::ffff:0:127.0.0.1]/a.png',
      'http://[64:ff9b:1::a9fe:a9fe]/',
      'http://169.254.169.254/',
      `http://ip6-localhost:${port}/a.png`,
      `http://images.example.com:${port}/a.png`, // a name that resolves to loopback
      `http://cdn.example.com:${port}/a.png`, // one of its addresses is private
      'ftp://x.test/a.png',
      'nope',
    ]) {
      const bad = await chat(k.key, { characterId: 'aria', message: 'x', imageUrl: url });
      expect(bad.statusCode, url).toBe(400);
      expect(errorOf(bad).details?.field).toBe('imageUrl');
      expect(errorOf(bad).message).toMatch(/^imageUrl /);
    }
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(4); // refused requests cost nothing
  });

  it('402 when credits are exhausted; unlimited keys report remaining null', async () => {
    const k = await h.newKey({ credits: 2 });
    expect((await chat(k.key, { characterId: 'aria', message: 'one' })).json().credits).toEqual({ used: 1, remaining: 1 });
    const image = await chat(k.key, { characterId: 'aria', message: 'pic', imageUrl: imageUrl('/a.png') });
    expect(image.statusCode).toBe(402); // needs 2, has 1
    expect(errorOf(image).code).toBe('INSUFFICIENT_CREDITS');
    expect((await chat(k.key, { characterId: 'aria', message: 'two' })).json().credits).toEqual({ used: 1, remaining: 0 });
    const out = await chat(k.key, { characterId: 'aria', message: 'three' });
    expect(out.statusCode).toBe(402);
    const unlimited = await h.newKey();
    expect((await chat(unlimited.key, { characterId: 'aria', message: 'hi' })).json().credits).toEqual({ used: 1, remaining: null });
  });

  it('a model failure is a 502 MODEL_ERROR (503 MODEL_UNAVAILABLE when unreachable) and charges nothing', async () => {
    const k = await h.newKey({ credits: 5 });
    h.fake.failNext(1, { status: 500 });
    const failed = await chat(k.key, { characterId: 'aria', message: 'hello?' });
    expect(failed.statusCode).toBe(502);
    expect(errorOf(failed).code).toBe('MODEL_ERROR');
    h.fake.breakStreamAfter(0);
    const cut = await chat(k.key, { characterId: 'aria', message: 'hello again?' });
    h.fake.breakStreamAfter(null);
    expect(cut.statusCode).toBe(503);
    expect(errorOf(cut).code).toBe('MODEL_UNAVAILABLE');
    expect(errorOf(cut).message).not.toContain('127.0.0.1'); // upstream detail stays in the log
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(0);
    expect((await chat(k.key, { characterId: 'aria', message: 'works now' })).json().credits).toEqual({ used: 1, remaining: 4 });
  });

  it('404 for an unknown or invisible character or session; 409 for a session of another character', async () => {
    const a = await h.newKey();
    const b = await h.newKey();
    const secret = (await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter() })).json();
    const sessionA = (await chat(a.key, { characterId: 'aria', message: 'hi' })).json().sessionId;
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ characterId: 'nobody', message: 'x' }, 404, 'CHARACTER_NOT_FOUND'],
      [{ characterId: secret.id, message: 'x' }, 404, 'CHARACTER_NOT_FOUND'],
      [{ characterId: 'aria', message: 'x', sessionId: sessionA }, 404, 'CONVERSATION_NOT_FOUND'],
      [{ characterId: 'aria', message: 'x', sessionId: 'conv_missing' }, 404, 'CONVERSATION_NOT_FOUND'],
    ];
    for (const [body, status, code] of cases) {
      const res = await chat(b.key, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(errorOf(res).code).toBe(code);
    }
    const other = await chat(a.key, { characterId: 'nyx', message: 'x', sessionId: sessionA });
    expect(other.statusCode).toBe(409);
    expect(errorOf(other).code).toBe('SESSION_CHARACTER_MISMATCH');
  });

  it('validates the body and names the field', async () => {
    const k = await h.newKey();
    const cases: Array<[unknown, string, string]> = [
      [{ message: 'hi' }, 'characterId', 'characterId is required'],
      [{ characterId: 'aria' }, 'message', 'message or imageUrl is required'],
      [{ characterId: 'aria', message: '   ' }, 'message', 'message or imageUrl is required'],
      [{ characterId: 'aria', message: 'hi', mode: 'fast' }, 'mode', 'mode must be one of sync, async, stream'],
      [{ characterId: 'aria', message: 42 }, 'message', 'message must be a string'],
      [{ characterId: 'aria', message: 'x'.repeat(20_001) }, 'message', 'message must be at most 20000 characters'],
      [{ characterId: 'aria', message: 'hi', stream: true }, 'stream', 'Unknown field: stream'],
    ];
    for (const [body, field, message] of cases) {
      const res = await chat(k.key, body as Record<string, unknown>);
      expect(res.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(errorOf(res)).toMatchObject({ code: 'VALIDATION_ERROR', message, details: { field } });
    }
  });
});

describe('Idempotency-Key', () => {
  it('replays the first result for the same body without a model call or charge; another body is 409', async () => {
    const k = await h.newKey({ credits: 10 });
    const body = { characterId: 'aria', message: 'Tell me a story' };
    const calls = h.fake.requests.length;
    const first = await chat(k.key, body, { 'idempotency-key': 'order-1' });
    const again = await chat(k.key, { message: 'Tell me a story', characterId: 'aria' }, { 'idempotency-key': 'order-1' }); // key order differs
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(h.fake.requests.length).toBe(calls + 1);
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
    const conflict = await chat(k.key, { ...body, message: 'Another story' }, { 'idempotency-key': 'order-1' });
    expect(conflict.statusCode).toBe(409);
    expect(errorOf(conflict).code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Keys are per API key: another tenant may use the same string.
    const other = await h.newKey();
    expect((await chat(other.key, body, { 'idempotency-key': 'order-1' })).statusCode).toBe(200);
    expect(h.fake.requests.length).toBe(calls + 2);
  });

  it('concurrent repeats wait for the first and share its result', async () => {
    const k = await h.newKey();
    const calls = h.fake.requests.length;
    const body = { characterId: 'aria', message: 'at once' };
    const [x, y] = await Promise.all([chat(k.key, body, { 'idempotency-key': 'dup' }), chat(k.key, body, { 'idempotency-key': 'dup' })]);
    expect(x.json()).toEqual(y.json());
    expect(h.fake.requests.length).toBe(calls + 1);
  });

  it('a failed request does not burn the key, and records expire after 24 h', async () => {
    const k = await h.newKey();
    const body = { characterId: 'aria', message: 'retry me' };
    h.fake.failNext(1, { status: 500 });
    expect((await chat(k.key, body, { 'idempotency-key': 'retry' })).statusCode).toBe(502);
    const ok = await chat(k.key, body, { 'idempotency-key': 'retry' });
    expect(ok.statusCode).toBe(200);
    const calls = h.fake.requests.length;
    clock.advance(24 * 60 * 60 * 1000 + 1);
    const fresh = await chat(k.key, body, { 'idempotency-key': 'retry' });
    expect(fresh.json().message.id).not.toBe(ok.json().message.id);
    expect(h.fake.requests.length).toBe(calls + 1);
  });

  it('replays an async 202 without starting a second turn', async () => {
    const k = await h.newKey();
    const body = { characterId: 'aria', message: 'later', mode: 'async' };
    const calls = h.fake.requests.length;
    const a = await chat(k.key, body, { 'idempotency-key': 'async-1' });
    const b = await chat(k.key, body, { 'idempotency-key': 'async-1' });
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(202);
    expect(b.json()).toEqual(a.json());
    await h.engine.drain(5000);
    expect(h.fake.requests.length).toBe(calls + 1);
  });
});

describe('limits', () => {
  it('429 with Retry-After over RATE_LIMIT_API_KEY_PER_MIN, per key', async () => {
    const small = await startApi({ env: { RATE_LIMIT_API_KEY_PER_MIN: '2' } });
    try {
      const k = await small.newKey({ credits: 10 });
      const body = { characterId: 'aria', message: 'hi' };
      expect((await small.call('POST', '/api/v1/chat', { key: k.key, body })).statusCode).toBe(200);
      expect((await small.call('POST', '/api/v1/chat', { key: k.key, body })).statusCode).toBe(200);
      const limited = await small.call('POST', '/api/v1/chat', { key: k.key, body });
      expect(limited.statusCode).toBe(429);
      expect(errorOf(limited).code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await small.store.apiKeys.get(k.id))?.creditsUsed).toBe(2); // not charged
      const other = await small.newKey();
      expect((await small.call('POST', '/api/v1/chat', { key: other.key, body })).statusCode).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('over REFUSED_TURNS_PER_KEY_PER_HOUR turns the model refused, a key is refused before anything is stored', async () => {
    const small = await startApi({ env: { REFUSED_TURNS_PER_KEY_PER_HOUR: '2' } });
    try {
      const k = await small.newKey({ credits: 10 });
      const first = (await small.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'hi' } })).json<{ sessionId: string }>();
      const send = (message: string, mode = 'sync') => small.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message, sessionId: first.sessionId, mode } });
      // The provider refusing the prompt (its safety system's 400) counts, and so does a reply
      // with no text; the provider's own failures (5xx) and its verdict on the operator's model
      // names (404) do not.
      small.fake.failNext(1, { status: 400 });
      expect((await send('refused once')).statusCode).toBe(502);
      small.fake.failNext(1, { status: 500 });
      expect((await send('the provider failed')).statusCode).toBe(502);
      small.fake.failNext(1, { status: 404 });
      expect((await send('the operator named a model the provider lacks')).statusCode).toBe(502);
      small.fake.respondWith('   ');
      expect((await send('nothing said')).statusCode).toBe(502);
      small.fake.respondWith(echoResponder);
      const stored = (await small.store.messages.newest(first.sessionId, { limit: 50 })).length;
      const asked = small.fake.requests.length;
      for (const mode of ['sync', 'async']) {
        const refused = await send(`once more, ${mode}`, mode);
        expect(refused.statusCode).toBe(429);
        expect(errorOf(refused).code).toBe('TOO_MANY_REFUSED_TURNS');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
      }
      // Nothing stored, nothing asked, nothing charged: the one turn that answered is all it paid.
      expect((await small.store.messages.newest(first.sessionId, { limit: 50 })).length).toBe(stored);
      expect(small.fake.requests.length).toBe(asked);
      expect((await small.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
      // Another key, and the admin (unlimited, trusted), are not held back by it.
      const other = await small.newKey({ credits: 1 });
      expect((await small.call('POST', '/api/v1/chat', { key: other.key, body: { characterId: 'aria', message: 'hello' } })).statusCode).toBe(200);
      expect((await small.call('POST', '/api/v1/chat', { key: ADMIN_KEY, body: { characterId: 'aria', message: 'hello' } })).statusCode).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('413 CONTEXT_TOO_LONG for a turn whose character and message alone are over CONTEXT_TOKENS: nothing stored, asked or charged', async () => {
    const small = await startApi({ env: { CONTEXT_TOKENS: '600' } });
    try {
      const k = await small.newKey({ credits: 5 });
      const first = await small.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'hi' } });
      const { sessionId } = first.json<{ sessionId: string }>();
      const asked = small.fake.requests.length;
      const sessions = (await small.call('GET', '/api/v1/conversations', { key: k.key })).json<{ total: number }>().total;
      // Refused before it is accepted, in every mode and for a new session too: no 202, no session made.
      for (const body of [{ sessionId, mode: 'sync' }, { sessionId, mode: 'async' }, { mode: 'async' }, { mode: 'stream' }]) {
        const res = await small.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: '漢'.repeat(3000), ...body } });
        expect(res.statusCode).toBe(413);
        expect(errorOf(res).code).toBe('CONTEXT_TOO_LONG');
        expect(errorOf(res).message).toMatch(/more than CONTEXT_TOKENS \(600\) allows; send a shorter message\. Nothing was stored or charged\.$/);
      }
      expect((await small.call('GET', '/api/v1/conversations', { key: k.key })).json<{ total: number }>().total).toBe(sessions);
      expect((await small.store.messages.newest(sessionId, { limit: 10 })).map((m) => m.content)).toEqual(['Echo: hi', 'hi']);
      expect(small.fake.requests.length).toBe(asked);
      // An async turn's credit, reserved with its claim, goes back as the claim is withdrawn, in the background.
      await vi.waitFor(async () => expect((await small.store.apiKeys.get(k.id))?.creditsUsed).toBe(1));
    } finally {
      await small.close();
    }
  });

  it('413 for a body over MAX_BODY_BYTES', async () => {
    const k = await h.newKey();
    const res = await chat(k.key, { characterId: 'aria', message: 'x'.repeat(70_000) });
    expect(res.statusCode).toBe(413);
    expect(errorOf(res).code).toBe('PAYLOAD_TOO_LARGE');
  });
});
